# labs/10-dlp/lab.sh - a place kept for a lab to come (bin/lab list shows it).
LAB_TITLE="Data-leak prevention at step 6: masking card numbers and keys"
LAB_STEPS="6, 7"
LAB_COMING="written with the DLP issue"
