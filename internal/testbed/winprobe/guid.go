package main

import (
	"encoding/hex"
	"strings"
)

// unpackGUID turns the installer's packed form (32 hex digits: the first
// three groups reversed, then each byte's two digits swapped) into
// "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}".
func unpackGUID(p string) (string, bool) {
	if len(p) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(p); err != nil {
		return "", false
	}
	p = strings.ToUpper(p)
	rev := func(s string) string {
		b := []byte(s)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	swap := func(s string) string {
		b := []byte(s)
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
		return string(b)
	}
	return "{" + rev(p[0:8]) + "-" + rev(p[8:12]) + "-" + rev(p[12:16]) + "-" + swap(p[16:20]) + "-" + swap(p[20:32]) + "}", true
}
