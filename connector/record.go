package connector

import (
	"encoding/json"
	"os"
	"time"
)

// InstallRecord is what adldapctl knows about the installed connector. The
// version comes from the release tag: the connector's package.json says
// 0.0.0 in release tarballs.
type InstallRecord struct {
	Version     string    `json:"version"`
	Tag         string    `json:"tag,omitempty"`
	Source      string    `json:"source,omitempty"` // URL or file it came from (no credentials)
	SHA256      string    `json:"sha256,omitempty"`
	Verified    string    `json:"verified,omitempty"` // digest | user-sha256 | signature | none
	InstalledAt time.Time `json:"installed_at"`
	Node        string    `json:"node,omitempty"`
	Previous    string    `json:"previous_version,omitempty"`
	LastResult  string    `json:"last_result,omitempty"`
}

// RecordFile is the install record's name in the state dir.
const RecordFile = "install.json"

// ReadRecord reads the install record; os.ErrNotExist when there is none.
func ReadRecord(path string) (*InstallRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r InstallRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Marshal renders the record.
func (r *InstallRecord) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}
