package testfeed

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
)

// bundleManifestFile is the name adldapctl gives a bundle's manifest.
const bundleManifestFile = ".adldapctl-bundle.json"

// EditBundleManifest copies the connector bundle at src to dst with its
// manifest's JSON fields changed by edit (a bundle "built" for another
// node, or a damaged one). Every other entry is copied as is.
func EditBundleManifest(src, dst string, edit func(m map[string]any)) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	edited := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if path.Base(hdr.Name) == bundleManifestFile {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				return fmt.Errorf("testfeed: %s: %w", hdr.Name, err)
			}
			edit(m)
			if data, err = json.MarshalIndent(m, "", "  "); err != nil {
				return err
			}
			hdr.Size = int64(len(data))
			edited = true
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if !edited {
		return fmt.Errorf("testfeed: %s has no %s", src, bundleManifestFile)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}
