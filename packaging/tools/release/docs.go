package release

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/adldapctl/adldapctl/cmd/adldapctl/cli"
)

// commandTree is adldapctl's cobra tree, built with no side effects.
func commandTree() *cobra.Command {
	root := cli.NewRootCommand(&cli.IOStreams{In: bytes.NewReader(nil), Out: io.Discard, ErrOut: io.Discard})
	root.DisableAutoGenTag = true
	return root
}

// manPages lists the commands that get a man page, in a stable order: the
// root and every available subcommand, named as cobra's SEE ALSO sections
// refer to them (adldapctl-mirror-build.1).
func manPages(root *cobra.Command) []*cobra.Command {
	cmds := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		cmds = append(cmds, manPages(c)...)
	}
	return cmds
}

func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1" }

// ManPageNames is the file name of every man page (section 1), root first.
func ManPageNames() []string {
	var names []string
	for _, c := range manPages(commandTree()) {
		names = append(names, manName(c))
	}
	return names
}

// genDocs writes bash, zsh and fish completion (completions/) and a man
// page per command (man/NAME.1 and man/NAME.1.gz) for adldapctl's command
// tree into stage. date is the man pages' date, fixed for reproducible
// output.
func genDocs(stage, version string, date time.Time) error {
	root := commandTree()
	name := root.Name()
	for _, d := range []string{"completions", "man"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return err
		}
	}
	var bash, zsh, fish bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return fmt.Errorf("bash completion: %w", err)
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return fmt.Errorf("zsh completion: %w", err)
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		return fmt.Errorf("fish completion: %w", err)
	}
	files := map[string][]byte{
		"completions/" + name + ".bash": bash.Bytes(),
		"completions/_" + name:          zsh.Bytes(),
		"completions/" + name + ".fish": fish.Bytes(),
	}
	for _, c := range manPages(root) {
		var man, gz bytes.Buffer
		hdr := &doc.GenManHeader{Section: "1", Source: name + " " + version, Manual: name + " manual", Date: &date}
		if err := doc.GenMan(c, hdr, &man); err != nil {
			return fmt.Errorf("man page %s: %w", manName(c), err)
		}
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(man.Bytes()); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		files["man/"+manName(c)] = man.Bytes()
		files["man/"+manName(c)+".gz"] = gz.Bytes()
	}
	for rel, b := range files {
		if err := os.WriteFile(filepath.Join(stage, rel), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
