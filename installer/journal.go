package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Phase names, in transaction order. They are written to the journal
// before the phase starts.
const (
	PhaseResolve  = "resolve"
	PhaseDownload = "download"
	PhaseVerify   = "verify"
	PhaseStage    = "stage"
	PhaseStop     = "stop"
	PhaseSwitch   = "switch"
	PhaseStart    = "start"
	PhaseHealth   = "health"
	PhaseCommit   = "commit"
	PhaseRollback = "rollback"
)

// Phases lists the transaction's phases in order.
var Phases = []string{PhaseResolve, PhaseDownload, PhaseVerify, PhaseStage, PhaseStop, PhaseSwitch, PhaseStart, PhaseHealth, PhaseCommit}

// journalFormat is the version of the journal's format; a journal of any
// other format is not acted on.
const journalFormat = 1

// maxJournal bounds how much of a journal is read.
const maxJournal = 1 << 20

// Journal is the on-disk record of a transaction in progress.
type Journal struct {
	Format       int    `json:"format"`
	ID           string `json:"id"`
	Op           string `json:"op"` // install, update, rollback
	Phase        string `json:"phase"`
	FromVersion  string `json:"from_version,omitempty"`
	ToVersion    string `json:"to_version,omitempty"`
	Fresh        bool   `json:"fresh"` // no previous install
	ServiceWasUp bool   `json:"service_was_running"`
	KeepOld      bool   `json:"keep_old"` // move the old tree to .previous on commit
	// Adopted: FromVersion is a connector installed without adldapctl
	// (Windows: its MSI product), so there is no install record of it.
	Adopted    bool            `json:"adopted,omitempty"`
	Record     json.RawMessage `json:"record,omitempty"`
	PrevRecord json.RawMessage `json:"prev_record,omitempty"`
	StartedAt  time.Time       `json:"started_at"`
	// MSI is what the Windows step needs to finish or undo an MSI
	// switch (absent on Linux).
	MSI  *MSIState `json:"msi,omitempty"`
	path string
}

// JournalFile is the journal's name in the state dir.
const JournalFile = "journal.json"

// ErrForeignJournal is wrapped when the journal file was not written by
// adldapctl (or by a version with another format): nothing is acted on.
var ErrForeignJournal = errors.New("journal was not written by this adldapctl")

func journalPath(p *platform.Platform) string { return filepath.Join(p.Paths.StateDir, JournalFile) }

// readJournal returns the journal, or nil when there is none. A journal
// that is damaged, foreign or contradicts the install record is refused
// with an error naming the file and how to clear it.
func readJournal(p *platform.Platform, installed *connector.InstallRecord) (*Journal, error) {
	path := journalPath(p)
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	refuse := func(why string) error {
		return fmt.Errorf("%w: %s %s; nothing was changed. If no adldapctl is running, move it aside (mv %s %s.bad) and run the command again; check the connector with adldapctl status",
			ErrForeignJournal, path, why, path, path)
	}
	if !fi.Mode().IsRegular() {
		return nil, refuse("is not a regular file")
	}
	f, err := platform.OpenOwnFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJournal {
		return nil, refuse("is larger than 1 MiB")
	}
	var j Journal
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, refuse(fmt.Sprintf("is damaged (%v)", err))
	}
	if dec.More() {
		return nil, refuse("has data after its JSON object")
	}
	if why := j.check(installed); why != "" {
		return nil, refuse(why)
	}
	if j.Adopted && p.OS != "windows" {
		return nil, refuse("marks an adopted install, which only Windows has")
	}
	if why := j.MSI.check(p); why != "" {
		return nil, refuse(why)
	}
	j.path = path
	return &j, nil
}

// check returns why j cannot have been written by adldapctl, or "".
func (j *Journal) check(installed *connector.InstallRecord) string {
	phaseIdx := slices.Index(Phases, j.Phase)
	switch {
	case j.Format != journalFormat:
		return fmt.Sprintf("has format %d, not %d", j.Format, journalFormat)
	case j.ID == "" || j.StartedAt.IsZero():
		return "has no transaction id or start time"
	case j.Op != string(OpInstall) && j.Op != string(OpUpdate) && j.Op != string(OpRollback):
		return fmt.Sprintf("names an unknown operation %q", j.Op)
	case phaseIdx < 0 && j.Phase != PhaseRollback:
		return fmt.Sprintf("names an unknown phase %q", j.Phase)
	}
	staged := j.Phase == PhaseRollback || phaseIdx >= slices.Index(Phases, PhaseStage)
	if !staged {
		return ""
	}
	if !validVersion(j.ToVersion) {
		return fmt.Sprintf("names no valid target version (%q)", j.ToVersion)
	}
	if j.Fresh && j.Op != string(OpInstall) {
		return fmt.Sprintf("marks a %s as a fresh install", j.Op)
	}
	if !j.Fresh {
		switch {
		case j.FromVersion == "" && (j.Op != string(OpInstall) || installed != nil):
			return "names no version to return to"
		case j.FromVersion == "": // an install over a tree adldapctl has no record of
		case !validVersion(j.FromVersion):
			return fmt.Sprintf("names no valid version to return to (%q)", j.FromVersion)
		}
		if len(j.PrevRecord) > 0 {
			prev, err := connector.ParseRecord(j.PrevRecord)
			if err != nil || prev.Version != j.FromVersion {
				return "holds a previous install record that does not match its from_version"
			}
		}
		if installed == nil && j.FromVersion != "" && !j.Adopted && j.Phase != PhaseCommit {
			return fmt.Sprintf("is a %s from %s but no install record exists", j.Op, j.FromVersion)
		}
	}
	switched := j.Phase == PhaseRollback || phaseIdx >= slices.Index(Phases, PhaseSwitch)
	if switched {
		rec, err := connector.ParseRecord(j.Record)
		if err != nil {
			return "holds no valid install record for the new version"
		}
		if rec.Version != j.ToVersion {
			return fmt.Sprintf("holds an install record for %s but targets %s", rec.Version, j.ToVersion)
		}
	}
	if installed != nil {
		// An adopted install may have a stale record (the product was
		// changed without adldapctl): FromVersion is the product's.
		ok := installed.Version == j.FromVersion || (j.Phase == PhaseCommit && installed.Version == j.ToVersion) || (j.Adopted && !j.Fresh)
		if j.Fresh {
			ok = j.Phase == PhaseCommit && installed.Version == j.ToVersion
		}
		if !ok {
			return fmt.Sprintf("describes a %s from %q to %s but the install record says %s is installed", j.Op, j.FromVersion, j.ToVersion, installed.Version)
		}
	}
	return ""
}

// enter records that phase is about to start (fsync'd file and folder),
// then gives the hook its say.
func (in *Installer) enter(j *Journal, phase string) error {
	j.Phase = phase
	if err := in.save(j); err != nil {
		return err
	}
	return in.hook(phase)
}

// save writes j as it is now (fsync'd file and folder).
func (in *Installer) save(j *Journal) error {
	if j.path == "" {
		return nil // not journaled (uninstall)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := platform.WriteFileAtomicMode(j.path, b, 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

func (j *Journal) clear() error {
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return platform.SyncDir(filepath.Dir(j.path))
}

func validVersion(v string) bool {
	_, err := updater.ParseVersion(v)
	return v != "" && err == nil
}
