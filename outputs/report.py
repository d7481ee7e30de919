"""A single self-contained HTML report of the enriched graph (no network, no JS libraries).

Sections: headline statistics (store counts, run id and time), a 2-D map of profile embeddings
(PCA, coloured by community; hover a point for the user), the community table (names, terms,
sizes, top members), the influence distribution with the top influencers, after a run with
topics the topic map (topic centroids in 2-D, sized by posts) and table, the mood over time
(share of negative posts per week in the largest communities, alert windows shaded) and the
alert timeline, and the run's stage statistics from the job manifest when a work dir is known. Plots are inline SVG; a few lines of
inline script record in ``<body data-rendered=...>`` what the browser actually laid out, which
the tests read back from headless Chromium.

Example:
    >>> write_report(store, "report.html")                              # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from graphsona.graph import GraphStore
from graphsona.outputs.summary import require_profiles
from graphsona.queries.library import run_named

__all__ = ["write_report"]

PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#a0cbe8",
]  # fmt: skip
OTHER = "#bab0ac"
MAX_POINTS = 4000


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _pca2(z: np.ndarray) -> np.ndarray:
    zc = z - z.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(zc, full_matrices=False)
    out: np.ndarray = zc @ vt[:2].T
    return out


def _map_svg(users: pl.DataFrame, prop: str, colours: dict[int, str], seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    if users.height > MAX_POINTS:
        users = users[np.sort(rng.choice(users.height, MAX_POINTS, replace=False))]
    z = np.asarray(users[prop].to_list(), dtype=np.float64)
    xy = _pca2(z)
    lo, hi = xy.min(0), xy.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    w, h, pad = 640, 480, 12
    px = pad + (xy - lo) / span * np.array([w - 2 * pad, h - 2 * pad])
    dots = []
    for (x, y), uid, c, name in zip(
        px, users["user_id"], users["community_id"], users["community_name"], strict=True
    ):
        colour = colours.get(int(c), OTHER) if c is not None else OTHER
        dots.append(
            f'<circle cx="{x:.1f}" cy="{h - y:.1f}" r="2.6" fill="{colour}" fill-opacity="0.75">'
            f"<title>{_e(uid)} · {_e(name)}</title></circle>"
        )
    return (
        f'<svg id="map" class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="profile map">'
        f'<rect width="{w}" height="{h}" fill="#fbfbfb" stroke="#ddd"/>{"".join(dots)}</svg>'
    )


def _histogram_svg(values: np.ndarray, bins: int = 20) -> str:
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    w, h, pad = 640, 220, 28
    bw = (w - 2 * pad) / bins
    top = max(int(counts.max()), 1)
    bars = []
    for i, c in enumerate(counts):
        bh = (h - 2 * pad) * c / top
        bars.append(
            f'<rect x="{pad + i * bw:.1f}" y="{h - pad - bh:.1f}" width="{bw - 2:.1f}" '
            f'height="{bh:.1f}" fill="#4e79a7"><title>{edges[i]:.2f}–{edges[i + 1]:.2f}: '
            f"{int(c)} users</title></rect>"
        )
    axis = (
        f'<text x="{pad}" y="{h - 8}" font-size="11">0</text>'
        f'<text x="{w - pad - 6}" y="{h - 8}" font-size="11">1</text>'
        f'<text x="{w / 2 - 40:.0f}" y="{h - 8}" font-size="11">influence score</text>'
        f'<text x="2" y="{pad - 8}" font-size="11">{top} users</text>'
    )
    return (
        f'<svg id="influence" class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="influence distribution">{"".join(bars)}{axis}</svg>'
    )


def _table(frame: pl.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows():
        cells = []
        for v in row:
            if isinstance(v, list):
                v = ", ".join(map(str, v))
            elif isinstance(v, float):
                v = f"{v:.4g}"
            cells.append(f"<td>{_e(v)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _stats_rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)


_SCRIPT = """
window.addEventListener('load', function () {
  var map = document.getElementById('map').getBoundingClientRect();
  var pts = document.querySelectorAll('#map circle').length;
  var rows = document.querySelectorAll('#communities tbody tr').length;
  var topics = document.querySelectorAll('#topic-map circle').length;
  var lines = document.querySelectorAll('#mood polyline').length;
  var alerts = document.querySelectorAll('#alerts tbody tr').length;
  document.body.dataset.rendered =
    'map=' + Math.round(map.width) + 'x' + Math.round(map.height) +
    ';points=' + pts + ';community_rows=' + rows + ';topics=' + topics +
    ';mood_lines=' + lines + ';alert_rows=' + alerts;
});
"""


def _topic_map_svg(topics: pl.DataFrame) -> str:
    """Topic centroids in 2-D (PCA), a circle per topic sized by its posts."""
    w, h, pad = 640, 360, 40
    z = np.asarray(topics["centroid"].to_list(), dtype=np.float64)
    xy = _pca2(z) if len(z) >= 2 else np.zeros((len(z), 2))
    lo, hi = xy.min(0), xy.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    px = pad + (xy - lo) / span * np.array([w - 2 * pad, h - 2 * pad])
    size = topics["size"].to_numpy().astype(np.float64)
    radius = 6 + 30 * np.sqrt(size / max(size.max(), 1.0))
    items = []
    for i, ((x, y), r, name, n) in enumerate(zip(px, radius, topics["name"], size, strict=True)):
        colour = PALETTE[i % len(PALETTE)]
        items.append(
            f'<circle cx="{x:.1f}" cy="{h - y:.1f}" r="{r:.1f}" fill="{colour}" '
            f'fill-opacity="0.45"><title>{_e(name)}: {int(n):,} posts</title></circle>'
            f'<text x="{x:.1f}" y="{h - y:.1f}" font-size="10" text-anchor="middle">'
            f"{_e(name)[:28]}</text>"
        )
    return (
        f'<svg id="topic-map" class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="topic map"><rect width="{w}" height="{h}" fill="#fbfbfb" '
        f'stroke="#ddd"/>{"".join(items)}</svg>'
    )


def _mood_svg(weekly: pl.DataFrame, alerts: pl.DataFrame, colours: dict[int, str]) -> str:
    """Share of negative posts per week, one line per community, alert windows shaded."""
    w, h, pad = 760, 280, 36
    t0: Any = weekly["bucket_start"].min()
    t1: Any = weekly["bucket_start"].max()
    span = max((t1 - t0).total_seconds(), 1.0)

    def x(t: Any) -> float:
        return float(pad + (t - t0).total_seconds() / span * (w - 2 * pad))

    def y(v: float) -> float:
        return float(h - pad - v * (h - 2 * pad))

    shades = []
    for a in alerts.iter_rows(named=True):
        x0, x1 = x(max(a["window_start"], t0)), x(min(a["window_end"], t1))
        shades.append(
            f'<rect x="{x0:.1f}" y="{pad}" width="{max(x1 - x0, 3):.1f}" height="{h - 2 * pad}" '
            f'fill="#e15759" fill-opacity="0.15"><title>{_e(a["summary"])}</title></rect>'
        )
    lines = []
    for (cid,), g in weekly.group_by(["community_id"], maintain_order=True):
        pts = " ".join(
            f"{x(t):.1f},{y(v):.1f}"
            for t, v in zip(g["bucket_start"], g["negative_share"], strict=True)
            if v is not None
        )
        colour = colours.get(int(str(cid)), OTHER)
        lines.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.6">'
            f"<title>community {cid}</title></polyline>"
        )
    axis = (
        f'<text x="{pad}" y="{h - 10}" font-size="11">{_e(str(t0)[:10])}</text>'
        f'<text x="{w - pad - 70}" y="{h - 10}" font-size="11">{_e(str(t1)[:10])}</text>'
        f'<text x="2" y="{pad - 8}" font-size="11">share of negative posts (0 to 1)</text>'
    )
    return (
        f'<svg id="mood" class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="mood over time"><rect width="{w}" height="{h}" fill="#fbfbfb" '
        f'stroke="#ddd"/>{"".join(shades)}{"".join(lines)}{axis}</svg>'
    )


def _monitoring_section(store: GraphStore, colours: dict[int, str]) -> str:
    """Topics, mood over time and alerts (empty when the run found no topics)."""
    from graphsona.errors import GraphsonaError
    from graphsona.jobs.monitoring import post_results
    from graphsona.monitor.series import series

    topics = store.read_topics()
    if topics.is_empty():
        return ""
    parts = [
        "<h2>Topics</h2>",
        '<p class="sub">Topic centroids projected to 2-D (PCA), sized by posts.</p>',
        _topic_map_svg(topics),
        _table(topics.select("topic_id", "name", "size", "terms"), "topics"),
    ]
    try:
        alerts = run_named(store, "alerts", {"limit": 1000})
    except GraphsonaError:
        alerts = pl.DataFrame()
    try:
        posts = post_results(store).drop_nulls("created_at")
    except GraphsonaError:
        posts = pl.DataFrame()
    if posts.height:
        keep = [int(c) for c in colours]
        weekly = series(posts.filter(pl.col("community_id").is_in(keep)), "community_id", "1w")
        shade = (
            alerts.with_columns(
                pl.col("window_start", "window_end").cast(weekly["bucket_start"].dtype)
            )
            if alerts.height
            else pl.DataFrame(
                schema={
                    "window_start": pl.Datetime,
                    "window_end": pl.Datetime,
                    "summary": pl.String,
                }
            )
        )
        parts += [
            "<h2>Mood over time</h2>",
            '<p class="sub">Share of negative posts per week in the largest communities '
            "(colours as in the map); alert windows shaded.</p>",
            _mood_svg(weekly, shade, colours),
        ]
    parts.append("<h2>Alerts</h2>")
    if alerts.height:
        cols = ["window_start", "severity", "kind", "summary", "terms", "drivers"]
        parts.append(_table(alerts.sort("window_start").select(cols), "alerts"))
    else:
        parts.append('<table id="alerts"><tbody></tbody></table><p>No alert.</p>')
    return "\n".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{margin-bottom:4px} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:8px 0 24px;font-size:13px}
th,td{border-bottom:1px solid #e5e5e5;padding:4px 10px;text-align:left;vertical-align:top}
.grid{display:flex;gap:24px;flex-wrap:wrap} .legend span{display:inline-block;margin:2px 10px 2px 0}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:5px}
"""


def _bias_section(
    store: GraphStore,
    users: pl.DataFrame,
    communities: pl.DataFrame,
    by: tuple[str, ...],
    min_group_size: int,
) -> str:
    """Coverage of communities and topics, and the label heads per group (outputs.bias)."""
    from graphsona.outputs.bias import bias_report, coverage

    posts = store.read_posts() if store.mapping.post_label is not None else None
    cov = coverage(users, communities, posts, min_group_size)
    parts = ["<h2>Bias and coverage</h2>"]
    rows: list[tuple[str, Any]] = [("minimum group size", min_group_size)]
    if "communities" in cov:
        c = cov["communities"]
        rows += [
            ("communities", c["count"]),
            ("communities under the minimum (published suppressed)", c["suppressed"]),
            ("users in them", c["users_in_suppressed"]),
        ]
    if "topics" in cov:
        t = cov["topics"]
        rows += [
            ("topics", t["count"]),
            ("topics under the minimum (suppressed)", t["suppressed"]),
            ("posts without a topic", t["posts_without_topic"]),
        ]
    parts.append(f'<table id="coverage">{_stats_rows(rows)}</table>')
    rep = bias_report(users, list(by)) if by else None
    if rep is not None:
        for name, head in rep["heads"].items():
            for col, group_rows in head["by"].items():
                frame = pl.DataFrame(group_rows).with_columns(pl.col("group").cast(pl.String))
                parts.append(f"<p class=\"sub\">label head {_e(name)} by {_e(col)}: overall "
                             f"{_e(head['overall'])}</p>")  # fmt: skip
                parts.append(_table(frame, f"bias-{name}-{col}"))
        parts += [f'<p class="warn">{_e(w)}</p>' for w in rep["warnings"]]
    else:
        parts.append(
            '<p class="sub">Label heads per group: <code>graphsona report --by COLUMN</code>.</p>'
        )
    return "\n".join(parts)


def write_report(
    store: GraphStore,
    out: str | Path,
    *,
    work_dir: Path | None = None,
    profile_property: str = "profile",
    title: str = "graphsona report",
    by: tuple[str, ...] = (),
    min_group_size: int = 5,
) -> Path:
    """Build the report from ``store`` (and ``work_dir/manifest.json`` if present); ``by``:
    user columns the bias section measures the label heads per group of."""
    users = store.read_users()
    require_profiles(users, profile_property, also=("community_id",))
    users = users.filter(pl.col(profile_property).is_not_null())
    communities = run_named(store, "communities", {"limit": 10**9})
    colours = {
        int(c): PALETTE[i]
        for i, c in enumerate(communities["community_id"].to_list()[: len(PALETTE)])
    }
    counts = store.counts()
    run_id = users["profile_run_id"][0] if "profile_run_id" in users.columns else "?"
    when = users["profiled_at"].max() if "profiled_at" in users.columns else "?"
    top = run_named(store, "top_influencers", {"limit": 10})
    legend = "".join(
        f'<span><i class="sw" style="background:{colours.get(int(c), OTHER)}"></i>{_e(n)}</span>'
        for c, n in zip(communities["community_id"], communities["name"], strict=True)
    )
    table = communities.select("community_id", "name", "size", "terms", "hashtags", "top_members")
    manifest: dict[str, Any] = {}
    if work_dir is not None and (work_dir / "manifest.json").exists():
        manifest = json.loads((work_dir / "manifest.json").read_text())
    run_pairs: list[tuple[str, Any]] = []
    if "embed" in manifest:
        rep = manifest["embed"].get("report", {})
        run_pairs += [(f"embed: {k}", v) for k, v in rep.items() if not isinstance(v, dict)]
    if "train" in manifest:
        t = manifest["train"]
        run_pairs += [
            ("training epochs", t.get("epochs")),
            ("best validation AUC", round(float(t.get("best_val_auc", float("nan"))), 4)),
            ("training mode", t.get("mode")),
        ]
    if "communities" in manifest:
        run_pairs.append(("modularity", round(float(manifest["communities"]["modularity"]), 4)))
    if "influence" in manifest:
        run_pairs += [
            (f"influence: {k}", round(v, 4) if isinstance(v, float) else v)
            for k, v in manifest["influence"].get("report", {}).items()
        ]
    if "labels" in manifest:
        for col, rep in manifest["labels"].get("report", {}).items():
            run_pairs += [
                (f"{col}: {k}", round(v, 4) if isinstance(v, float) else v) for k, v in rep.items()
            ]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_STYLE}</style></head>
<body data-rendered="no">
<h1>{_e(title)}</h1>
<p class="sub">run {_e(run_id)} · profiled {_e(when)} · {counts.get("users", 0):,} users</p>
<h2>Graph</h2>
<table id="stats">{_stats_rows([(k, f"{v:,}") for k, v in counts.items()])}</table>
<h2>Profile map</h2>
<p class="sub">Profile embeddings projected to 2-D (PCA), coloured by community; hover for the user.</p>
<div class="legend">{legend}</div>
{_map_svg(users, profile_property, colours)}
<h2>Communities</h2>
{_table(table, "communities")}
<h2>Influence</h2>
<div class="grid"><div>{_histogram_svg(users["influence"].to_numpy())}</div>
<div>{_table(top.select("rank", "user_id", "influence", "community"), "top-influencers")}</div></div>
{_monitoring_section(store, colours)}
{_bias_section(store, users, communities, by, min_group_size)}
<h2>Run statistics</h2>
<table id="run">{_stats_rows(run_pairs) or "<tr><td>no manifest found</td></tr>"}</table>
<script>{_SCRIPT}</script>
</body></html>
"""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
