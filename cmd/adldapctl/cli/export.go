package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/postinstall"
)

// exportTimeout bounds each verify check run for the bundle.
const exportTimeout = 5 * time.Second

// exportJSON is `export --json` (a stable contract).
type exportJSON struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

func (a *app) exportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a troubleshooting bundle (zip) with every secret removed",
		Long: `Export writes a zip for a support case: config.json with every secret
replaced by a marker (keys and structure kept, the proxy host kept),
the profile mapper, certificate metadata (never a private key), the verify
report as text and JSON, the last 1000 lines of the connector's log, the
versions of adldapctl, the connector and Node.js, and OS facts. The file is
mode 0600; the default name is adldapctl-export-<host>-<time>.zip in the
current folder.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupReadOnly(cmd.Context()); err != nil {
				return err
			}
			path := out
			if path == "" {
				host, _ := os.Hostname()
				path = postinstall.DefaultBundleName(host, time.Now())
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			a.logf("running verify for the bundle (up to %s per check)", exportTimeout)
			env := a.verifyEnv(&verifyOptions{timeout: exportTimeout})
			n, err := postinstall.WriteBundleFile(cmd.Context(), abs, postinstall.BundleOptions{Env: env,
				Timeout: exportTimeout, ToolVersion: Version})
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if a.json {
				return a.writeJSON(exportJSON{Path: abs, Bytes: n})
			}
			a.printf("wrote %s (%d bytes, mode 0600): secrets removed, review it before you send it\n", abs, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the bundle to `FILE.zip`")
	return cmd
}
