# labs/09-waf/lab.sh - a place kept for a lab to come (bin/lab list shows it).
LAB_TITLE="A web application firewall at step 3 (ModSecurity, OWASP CRS)"
LAB_STEPS="2, 3"
LAB_COMING="written with the WAF issue"
