package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/adldapctl/adldapctl/internal/redact"
)

// BOM is the UTF-8 byte order mark some Windows editors put in config.json.
var BOM = []byte{0xEF, 0xBB, 0xBF}

// Config is config.json kept in its original key order, so an edit by
// adldapctl changes only the keys it sets.
type Config struct {
	keys   []string
	values map[string]json.RawMessage
	HadBOM bool
	// indent and newline are the file's own, kept when it is rendered.
	indent, newline string
	// set are keys whose value adldapctl changed: only they are rendered
	// anew; every other value is written back byte for byte.
	set   map[string]bool
	dirty bool // a value was set or a key deleted
	// dups are keys that appear more than once (Node keeps the last one).
	dups []string
}

// ErrConfigInvalid wraps every parse failure of config.json.
var ErrConfigInvalid = errors.New("config.json is not valid JSON")

// ParseConfig parses config.json bytes. A UTF-8 BOM is tolerated and noted.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{values: map[string]json.RawMessage{}}
	if bytes.HasPrefix(data, BOM) {
		c.HadBOM = true
		data = data[len(BOM):]
	}
	c.indent, c.newline = layoutOf(data)
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfigInvalid, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: top level must be an object", ErrConfigInvalid)
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfigInvalid, err)
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrConfigInvalid, k, err)
		}
		if _, dup := c.values[k]; !dup {
			c.keys = append(c.keys, k)
		} else if !slices.Contains(c.dups, k) {
			c.dups = append(c.dups, k)
		}
		c.values[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfigInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrConfigInvalid)
	}
	return c, nil
}

// ReadConfig reads and parses path. A missing file is an empty Config and
// os.ErrNotExist.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Config{values: map[string]json.RawMessage{}}, err
	}
	return ParseConfig(data)
}

// Keys returns the keys in file order.
func (c *Config) Keys() []string { return append([]string(nil), c.keys...) }

// String returns a string value ("" when absent or not a string).
func (c *Config) String(key string) string {
	var s string
	if raw, ok := c.values[key]; ok {
		if json.Unmarshal(raw, &s) != nil {
			return "" // not a string
		}
	}
	return s
}

// Has reports whether key is present.
func (c *Config) Has(key string) bool { _, ok := c.values[key]; return ok }

// Raw returns a key's raw JSON.
func (c *Config) Raw(key string) (json.RawMessage, bool) { v, ok := c.values[key]; return v, ok }

// Set sets key to v, keeping its position, or appending it when new. It
// reports whether the value changed. A key that is not valid UTF-8 is
// stored as the file will read back (each bad byte U+FFFD).
func (c *Config) Set(key string, v any) (bool, error) {
	key = fileKey(key)
	raw, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	if old, ok := c.values[key]; ok {
		if bytes.Equal(compact(old), raw) {
			return false, nil
		}
	} else {
		c.keys = append(c.keys, key)
	}
	c.values[key] = raw
	if c.set == nil {
		c.set = map[string]bool{}
	}
	c.set[key] = true
	c.dirty = true
	return true, nil
}

// Delete removes key and reports whether it was there.
func (c *Config) Delete(key string) bool {
	key = fileKey(key)
	if _, ok := c.values[key]; !ok {
		return false
	}
	delete(c.values, key)
	c.dirty = true
	for i, k := range c.keys {
		if k == key {
			c.keys = append(c.keys[:i], c.keys[i+1:]...)
			break
		}
	}
	return true
}

// fileKey is key as it reads back from the rendered file: JSON strings
// are UTF-8, so encoding/json writes each invalid byte as U+FFFD.
func fileKey(key string) string {
	if utf8.ValidString(key) {
		return key
	}
	b, _ := json.Marshal(key)
	var k string
	if json.Unmarshal(b, &k) != nil {
		return key
	}
	return k
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// Marshal renders the config with the file's own indentation and line
// ending (two spaces and LF for a new file), without a BOM (the
// connector's JSON parser does not accept one). A value adldapctl did not
// set is written back exactly as it was read.
func (c *Config) Marshal() []byte {
	indent, nl := c.indent, c.newline
	if indent == "" {
		indent = "  "
	}
	if nl == "" {
		nl = "\n"
	}
	var b bytes.Buffer
	b.WriteString("{")
	for i, k := range c.keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(nl + indent)
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteString(": ")
		var ind bytes.Buffer
		switch {
		case !c.set[k]:
			b.Write(c.values[k])
		case json.Indent(&ind, c.values[k], indent, indent) == nil:
			b.Write(bytes.ReplaceAll(ind.Bytes(), []byte("\n"), []byte(nl)))
		default:
			b.Write(c.values[k])
		}
	}
	if len(c.keys) > 0 {
		b.WriteString(nl)
	}
	b.WriteString("}" + nl)
	return b.Bytes()
}

// layoutOf returns the indentation of the first key of a JSON object and
// its line ending ("" when the object is on one line).
func layoutOf(data []byte) (indent, newline string) {
	open := bytes.IndexByte(data, '{')
	if open < 0 {
		return "", ""
	}
	rest := data[open+1:]
	ws := rest[:len(rest)-len(bytes.TrimLeft(rest, " \t\r\n"))]
	nl := bytes.LastIndexByte(ws, '\n')
	if nl < 0 {
		return "", ""
	}
	newline = "\n"
	if nl > 0 && ws[nl-1] == '\r' {
		newline = "\r\n"
	}
	return string(ws[nl+1:]), newline
}

// Duplicates returns the keys that appear more than once in the file.
func (c *Config) Duplicates() []string { return append([]string(nil), c.dups...) }

// Redacted returns a copy of the config as a generic map with every secret
// replaced by "<redacted>" and the password in HTTP_PROXY removed.
func (c *Config) Redacted() map[string]any {
	out := make(map[string]any, len(c.keys))
	for _, k := range c.keys {
		var v any
		if json.Unmarshal(c.values[k], &v) != nil {
			v = nil // stored values are valid JSON; a broken one is shown as absent
		}
		switch {
		case IsSecretKey(k):
			if v != nil && v != "" {
				v = Redacted
			}
		case strings.EqualFold(k, "HTTP_PROXY"):
			if s, ok := v.(string); ok {
				v = redact.URL(s)
			}
		}
		out[k] = v
	}
	return out
}
