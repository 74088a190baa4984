# labs/11-limits/lab.sh - a place kept for a lab to come (bin/lab list shows it).
LAB_TITLE="Per-client limits: connections and requests per second"
LAB_STEPS="1, 2"
LAB_COMING="written with the per-client limits issue"
