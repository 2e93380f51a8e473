package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNodeEngine(t *testing.T) {
	tests := []struct {
		node, engines string
		ok            bool
	}{
		{"v22.11.0", "^22.11.0", true},
		{"v22.20.1", "^22.11.0", true},
		{"v22.10.9", "^22.11.0", false},
		{"v20.20.2", "^22.11.0", false},
		{"v23.0.0", "^22.11.0", false},
		{"v20.1.0", "~20.1", true},
		{"v20.1.9", "~20.1", true},
		{"v20.2.0", "~20.1", false},
		{"v20.0.9", "~20.1", false},
		{"v20.3.4", "~20.3.1", true},
		{"v20.3.0", "~20.3.1", false},
		{"v20.9.0", "~20", true},
		{"v21.0.0", "~20", false},
		{"v20.1.5", "~>20.1", true},
		{"v18.0.0", ">=18", true},
		{"v24.1.0", ">=18", true},
		{"v16.20.2", ">=18", false},
		{"v18.0.0", ">= 18", true},
		{"v22.99.0", ">=18.0.0 <23", true},
		{"v23.0.0", ">=18.0.0 <23", false},
		{"v17.9.0", ">=18.0.0 <23", false},
		{"v22.0.0", "22.x", true},
		{"v22.5.1", "22.x", true},
		{"v21.9.9", "22.x", false},
		{"v23.0.0", "22.x", false},
		{"v22.5.1", "22.X", true},
		{"v22.5.1", "22.*", true},
		{"v22.5.1", "22", true},
		{"v22.5.1", "22.5", true},
		{"v22.6.0", "22.5", false},
		{"v20.1.0", "20.x || 22.x", true},
		{"v22.1.0", "20.x || 22.x", true},
		{"v21.0.0", "20.x || 22.x", false},
		{"v18.20.0", "20.x||22.x", false},
		{"v0.10.48", "*", true},
		{"v24.0.0", "*", true},
		{"v24.0.0", "x", true},
		{"v20.20.2", "", true},
		{"v20.20.2", "   ", true},
		{"v22.11.0", "22.11.0", true},
		{"v22.11.0", "=22.11.0", true},
		{"v22.11.0", "v22.11.0", true},
		{"v22.11.1", "22.11.0", false},
		{"v18.0.0", "18 - 22", true},
		{"v22.99.0", "18 - 22", true},
		{"v23.0.0", "18 - 22", false},
		{"v17.9.9", "18 - 22", false},
		{"v22.3.4", "18.1.2 - 22.3.4", true},
		{"v22.3.5", "18.1.2 - 22.3.4", false},
		{"v18.1.1", "18.1.2 - 22.3.4", false},
		{"v22.9.9", ">22", false},
		{"v23.0.0", ">22", true},
		{"v22.0.1", ">22.0.0", true},
		{"v22.9.9", "<=22", true},
		{"v23.0.0", "<=22", false},
		{"v21.9.0", "<22", true},
		{"v22.0.0", "<22", false},
		{"v0.2.9", "^0.2.3", true},
		{"v0.3.0", "^0.2.3", false},
		{"v0.0.3", "^0.0.3", true},
		{"v0.0.4", "^0.0.3", false},
		{"v0.9.0", "^0.x", true},
		{"v1.0.0", "^0.x", false},
		{"v22.99.0", "^22", true},
		{"v22.99.0", "^22.x", true},
		{"v23.0.0", "^22.x", false},
		{"20.20.2", ">=20", true}, // without the v
		{"v20.20.2\n", ">=20", true},
		// Prerelease builds compare by plain version order (npm checks engines
		// with includePrerelease).
		{"v22.12.0-nightly20241001abcdef", "^22.11.0", true},
		{"v22.11.0-rc.1", "^22.11.0", false},
		{"v23.0.0-rc.1", "^22.11.0", false},
		{"v22.0.0-rc.1", "22.x", true},
		{"v22.0.0-rc.2", ">=22.0.0-rc.1", true},
		{"v22.0.0-rc.1", ">=22.0.0-rc.2", false},
	}
	for _, tt := range tests {
		err := CheckNodeEngine(tt.node, tt.engines)
		if tt.ok && err != nil {
			t.Errorf("CheckNodeEngine(%q, %q) = %v, want nil", tt.node, tt.engines, err)
		}
		if !tt.ok {
			var ne *NodeEngineError
			if !errors.As(err, &ne) {
				t.Errorf("CheckNodeEngine(%q, %q) = %v, want a *NodeEngineError", tt.node, tt.engines, err)
			}
		}
	}
}

func TestCheckNodeEngineMessage(t *testing.T) {
	tests := []struct {
		node, engines, want string
	}{
		{"v20.20.2", "^22.11.0", `node v20.20.2 does not satisfy engines.node "^22.11.0" required by this release; install Node.js 22 (e.g. from your distribution or nodejs.org) and run again`},
		{"20.20.2", "^22.11.0", `node v20.20.2 does not satisfy engines.node "^22.11.0" required by this release; install Node.js 22 (e.g. from your distribution or nodejs.org) and run again`},
		{"v22.3.0", "^22.11.0", `install a Node.js 22 release that satisfies it (`},
		{"v16.20.2", ">=18", `install Node.js 18 or newer (`},
		{"v20.1.0", ">=20.9", `install Node.js 20.9 or newer (`},
		{"v20.1.0", ">=20.9.1", `install Node.js 20.9.1 or newer (`},
		{"v18.20.0", "20.x || 22.x", `install Node.js 22 (`},
		{"v24.0.0", ">=18.0.0 <23", `install Node.js 22 (`},
		{"v24.0.0", "18 - 22", `install Node.js 22 (`},
		{"v24.0.0", "<=22.4.0", `install Node.js 22 (`},
		{"v20.5.0", ">=18 <20 || >=22", `install Node.js 22 or newer (`},
		{"v20.0.0", "<0", `install a Node.js version that satisfies it (`},
	}
	for _, tt := range tests {
		err := CheckNodeEngine(tt.node, tt.engines)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckNodeEngine(%q, %q) = %v, want it to contain %q", tt.node, tt.engines, err, tt.want)
		}
	}
}

func TestCheckNodeEngineInvalid(t *testing.T) {
	for _, engines := range []string{"banana", ">=", ">=18,<23", "^22.11.0.1", "22.x.y", "1.2.3 -", ">=18 || foo", "~~1", "99999999999999999999"} {
		err := CheckNodeEngine("v22.11.0", engines)
		var ne *NodeEngineError
		if err == nil || errors.As(err, &ne) {
			t.Errorf("CheckNodeEngine(_, %q) = %v, want an invalid-range error", engines, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+engines+`"`) {
			t.Errorf("error %q does not name the range %q", err, engines)
		}
	}
	if err := CheckNodeEngine("not-a-version", ">=18"); err == nil || !strings.Contains(err.Error(), "not-a-version") {
		t.Errorf("bad node version: %v", err)
	}
}

func TestParseNodeRangeConstraints(t *testing.T) {
	r, err := ParseNodeRange("20.x || ^22.11.0")
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != "20.x || ^22.11.0" {
		t.Errorf("String() = %q", r.String())
	}
	cs := r.Constraints()
	if len(cs) != 2 {
		t.Fatalf("got %d constraint sets, want 2", len(cs))
	}
	if got := cs[1].String(); got != ">= 22.11.0,< 23.0.0-0" {
		t.Errorf("constraints = %q", got)
	}
}

func TestReadEnginesNode(t *testing.T) {
	tests := []struct {
		name, json, want string
		wantErr          bool
	}{
		{"plain", `{"name":"c","engines":{"node":"^22.11.0"}}`, "^22.11.0", false},
		{"bom", "\xef\xbb\xbf" + `{"engines":{"node":">=18"}}`, ">=18", false},
		{"no engines", `{"name":"c"}`, "", false},
		{"null engines", `{"engines":null}`, "", false},
		{"no node", `{"engines":{"npm":">=10"}}`, "", false},
		{"node number", `{"engines":{"node":22}}`, "", true},
		{"engines array", `{"engines":["node >= 0.4"]}`, "", true},
		{"bad json", `{"engines":`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "package.json")
			if err := os.WriteFile(p, []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadEnginesNode(p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := ReadEnginesNode(filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
