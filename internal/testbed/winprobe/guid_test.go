package main

import "testing"

func TestUnpackGUID(t *testing.T) {
	// The connector's UpgradeCode, as Wine's msiexec registered it.
	got, ok := unpackGUID("E9BA27012481AFA4C92F454526DC062E")
	if !ok || got != "{1072AB9E-1842-4AFA-9CF2-545462CD60E2}" {
		t.Errorf("unpackGUID = %q, %v", got, ok)
	}
	for _, bad := range []string{"", "E9BA27012481AFA4C92F454526DC062", "Z9BA27012481AFA4C92F454526DC062E"} {
		if _, ok := unpackGUID(bad); ok {
			t.Errorf("unpackGUID(%q) accepted", bad)
		}
	}
}
