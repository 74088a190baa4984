# encode.awk - what shapes.awk and gen/gen.awk share: byte values and
# percent-encoding.  Load it first (awk -f encode.awk -f shapes.awk); run
# with LC_ALL=C so that a character is a byte.

BEGIN {
	for (i = 0; i < 256; i++)
		ord[sprintf("%c", i)] = i
	unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
}

# Percent-encodes every byte of s not in keep (space as "+" when plus).
function pct(s, keep, plus,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (index(keep, c))
			out = out c
		else if (plus && c == " ")
			out = out "+"
		else
			out = out sprintf("%%%02X", ord[c])
	}
	return out
}
