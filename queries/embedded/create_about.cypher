CREATE REL TABLE IF NOT EXISTS {{about_rel}}(FROM {{post_label}} TO {{topic_label}})
