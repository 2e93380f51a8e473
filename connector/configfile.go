package connector

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/adldapctl/adldapctl/platform"
)

// ErrDuplicateKey is returned when config.json holds a key twice: Node
// keeps the last one, so an edit of the first would silently not count.
var ErrDuplicateKey = errors.New("config.json has a duplicate key")

// EditResult is what EditConfig did.
type EditResult struct {
	Changed       bool        // the file was rewritten
	Created       bool        // the file did not exist before
	BOMRemoved    bool        // a UTF-8 BOM was dropped (Node's JSON.parse refuses one)
	Mode          os.FileMode // the file's mode after the edit
	OthersCanRead bool        // group or others can read it (verify's config.perms flags it)
}

// EditConfig is the one way adldapctl changes config.json: it reads path,
// refuses a file that does not parse or has duplicate keys (naming them),
// calls edit, and when a value changed writes the file atomically with
// every other key, its order, the file's indentation, line ending, mode
// and owner kept. A new file is created with mode 0600. A UTF-8 BOM is
// always dropped when the file is rewritten, and reported.
func EditConfig(path string, edit func(c *Config) error) (*EditResult, error) {
	res := &EditResult{}
	c, err := ReadConfig(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		res.Created = true
	case err != nil:
		return nil, fmt.Errorf("%s: %w; fix it (or move it aside) and try again", path, err)
	}
	if d := c.Duplicates(); len(d) > 0 {
		return nil, fmt.Errorf("%w: %s appears more than once in %s (Node uses the last one): remove the extra entries, then try again",
			ErrDuplicateKey, strings.Join(quoteAll(d), ", "), path)
	}
	if err := edit(c); err != nil {
		return nil, err
	}
	if !c.dirty {
		if fi, err := os.Stat(path); err == nil {
			res.Mode = fi.Mode().Perm()
			res.OthersCanRead = res.Mode&0o044 != 0
		}
		return res, nil
	}
	if err := platform.WriteFileAtomic(path, c.Marshal(), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	res.Changed, res.BOMRemoved = true, c.HadBOM
	if fi, err := os.Stat(path); err == nil {
		res.Mode = fi.Mode().Perm()
		res.OthersCanRead = res.Mode&0o044 != 0
	}
	return res, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
