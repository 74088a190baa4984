# labs/08-fastest/lab.sh - a place kept for a lab to come (bin/lab list shows it).
LAB_TITLE="Balancing by response time (fastest, EWMA of step 6's times)"
LAB_STEPS="3, 6"
LAB_COMING="written with the response-time balancing issue"
