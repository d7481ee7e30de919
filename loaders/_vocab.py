"""Word lists for the synthetic generator: topic vocabularies, common words, other languages.

Real words (not random strings) so that community names derived from them read like names.
"""

from __future__ import annotations

THEMES: dict[str, list[str]] = {
    "football": "goal striker midfield penalty league derby coach transfer keeper offside "
    "stadium kickoff fixture winger tackle trophy halftime squad referee champions".split(),
    "music": "album guitar concert vinyl chorus melody drummer setlist remix festival "
    "singer lyrics studio bassline tour acoustic playlist encore band synth".split(),
    "coding": "python compiler refactor commit debugger kernel rustlang typescript pull "
    "request deploy docker testing linter async runtime api backend frontend opensource".split(),
    "cooking": "recipe sourdough garlic simmer oven braise pasta spice roast basil "
    "dough broth skillet marinade dessert bake butter saffron ferment chef".split(),
    "gardening": "tomato compost seedling pruning mulch orchard soil harvest greenhouse "
    "perennial bloom watering tulip hedge shovel weeds bulbs raised beds allotment".split(),
    "astronomy": "telescope nebula galaxy eclipse orbit comet exoplanet redshift meteor "
    "observatory lunar solar spectrum quasar supernova planet stargazing cosmos nasa rocket".split(),
    "finance": "stocks dividend inflation bonds portfolio earnings yield hedge crypto "
    "etf valuation market bullish bearish interest rates budget savings investor trading".split(),
    "gaming": "speedrun console controller respawn boss loot multiplayer esports patch "
    "quest pixel arcade leaderboard raid streamer indie level sandbox roguelike gamepad".split(),
    "fitness": "marathon deadlift cardio protein squat stretching workout sprint yoga "
    "treadmill reps gym endurance pushups cycling triathlon hydration coachfit mobility core".split(),
    "travel": "passport itinerary backpacking hostel flight layover beach museum "
    "roadtrip luggage visa sunrise ferry island trekking souvenir tourist airport hiking map".split(),
    "politics": "election senate ballot policy campaign debate parliament vote reform "
    "minister governor budgetcut coalition referendum turnout legislation poll lobby caucus mandate".split(),
    "film": "cinema director screenplay trailer premiere documentary actor sequel "
    "festivalfilm oscars cinematography editing blockbuster critic noir anime casting reel studiofilm frame".split(),
    "climate": "emissions renewable solarpanel carbon wildfire drought glacier recycling "
    "sustainability windfarm heatwave biodiversity ocean warming netzero flood activist energy green".split(),
    "photography": "lens aperture shutter portrait exposure tripod mirrorless bokeh "
    "landscape darkroom film35mm iso composition golden hour prime zoom raw editinglight".split(),
}

COMMON = (
    "the a to and of in is it for on with this that my today just so really new day "
    "love good great time people about what all more like get think best week next"
).split()

# (language code, function words mixed into that language's posts)
FOREIGN: dict[str, list[str]] = {
    "es": "el la que de y en los las por una muy hoy gracias".split(),
    "de": "der die und das ist nicht mit auf ein heute sehr danke".split(),
    "fr": "le la et les des est une pour avec aujourd'hui très merci".split(),
}

EMOJI = ["🔥", "😂", "❤️", "🎉", "👍", "🚀", "🌍", "✨"]

SYLLABLES = "ka lo mi ne ru sa te vo zi pa qua ber dor fin gal hul".split()
