package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The WiX <Environment> wixl lacks becomes the row WiX's compiler writes,
// and the element is cut out of what wixl reads (nothing else changes).
func TestWixlSourceEnvironment(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "adldapctl-amd64.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	stripped, rows, err := wixlSource(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []envRow{{ID: "PathEntry", Name: "=-*PATH", Value: "[INSTALLDIR];[~]", Component: "Binary"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
	if strings.Contains(string(stripped), "<Environment") {
		t.Errorf("<Environment> left for wixl:\n%s", stripped)
	}
	line := `<Environment Id="PathEntry" Name="PATH" Value="[INSTALLDIR]" Part="first" Action="set" System="yes" Permanent="no"/>`
	if got := strings.Replace(string(src), line, "", 1); got != string(stripped) {
		t.Errorf("more than the element was cut:\n%s", stripped)
	}

	for _, tc := range []struct{ attrs, name, value string }{
		{`Name="X" Value="v" Part="first" Action="create" Permanent="yes"`, "+X", "v;[~]"},
		{`Name="X" Value="v" Action="remove" System="no"`, "!-X", "v"},
		{`Name="X" Value="v" Part="last" Separator=":"`, "=-X", "[~]:v"},
	} {
		doc := `<Wix><Component Id="C"><Environment Id="E" ` + tc.attrs + `/></Component></Wix>`
		_, rows, err := wixlSource([]byte(doc))
		if err != nil || len(rows) != 1 || rows[0].Name != tc.name || rows[0].Value != tc.value || rows[0].Component != "C" {
			t.Errorf("%s: %+v %v, want %s %s", tc.attrs, rows, err, tc.name, tc.value)
		}
	}
	for _, bad := range []string{
		`<Wix><Environment Id="E" Name="X" Value="v"/></Wix>`,
		`<Wix><Component Id="C"><Environment Id="E" Name="X" Value="v" Part="middle"/></Component></Wix>`,
		`<Wix><Component Id="C"><Environment Id="E" Name="X" Value="v" Unknown="1"/></Component></Wix>`,
		`<Wix><Component Id="C"><Environment Id="E" Name="X" Value="it's"/></Component></Wix>`,
		`<Wix><Component Id="C"><Environment Id="E" Name="X"`,
	} {
		if _, _, err := wixlSource([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// The released .msi's tables, read back with msiinfo: what makes it
// per-machine, a major upgrade of any adldapctl under our UpgradeCode,
// adldapctl.exe in [ProgramFiles64Folder]adldapctl, and the PATH entry
// with the actions that write and remove it.
func TestReleaseMSITables(t *testing.T) {
	r := buildTestRelease(t)
	if _, err := exec.LookPath("msiinfo"); err != nil {
		t.Fatal("msiinfo (msitools) missing though msibuild is there")
	}
	msi := filepath.Join(r.dir, MSIName(testVersion, "amd64"))
	prod, err := LoadProduct(filepath.Join("..", "..", "product.json"))
	if err != nil {
		t.Fatal(err)
	}
	table := func(name string) string {
		t.Helper()
		out, err := exec.Command("msiinfo", "export", msi, name).CombinedOutput()
		if err != nil {
			t.Fatalf("msiinfo export %s: %v\n%s", name, err, out)
		}
		return strings.ReplaceAll(string(out), "\r\n", "\n")
	}
	has := func(tbl, row string) {
		t.Helper()
		if !strings.Contains(table(tbl), "\n"+row+"\n") {
			t.Errorf("%s lacks %q:\n%s", tbl, row, table(tbl))
		}
	}
	has("Property", "ALLUSERS\t1")
	has("Property", "ProductVersion\t"+testVersion)
	has("Property", "UpgradeCode\t"+prod.UpgradeCode)
	has("Property", "ProductName\tadldapctl")
	has("Upgrade", prod.UpgradeCode+"\t\t"+testVersion+"\t\t1\t\tWIX_UPGRADE_DETECTED")
	has("Environment", "PathEntry\t=-*PATH\t[INSTALLDIR];[~]\tBinary")
	has("InstallExecuteSequence", "WriteEnvironmentStrings\t\t5200")
	has("InstallExecuteSequence", "RemoveEnvironmentStrings\t\t3300")
	has("InstallExecuteSequence", "RemoveExistingProducts\t\t1401")
	if dir := table("Directory"); !strings.Contains(dir, "\tProgramFiles64Folder\t") || !strings.Contains(dir, "INSTALLDIR\tProgramFiles64Folder\tadldapctl\n") {
		t.Errorf("Directory:\n%s", dir)
	}
	if f := table("File"); !strings.Contains(f, "Binary\tBinary\tadldapctl.exe\t") || !strings.Contains(f, "License\tLicense\tLICENSE.txt\t") {
		t.Errorf("File:\n%s", f)
	}
	if sum, err := exec.Command("msiinfo", "suminfo", msi).CombinedOutput(); err != nil || !strings.Contains(string(sum), "Template: x64;1033") {
		t.Errorf("summary: %v\n%s", err, sum)
	}
}
