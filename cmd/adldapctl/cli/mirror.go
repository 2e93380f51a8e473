package cli

import (
	"fmt"
	"net/http"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/updater"
)

// mirrorSource returns the signed mirror feed at feed.
func (a *app) mirrorSource(feed string, client *http.Client) (updater.Source, string, error) {
	if err := updater.CheckFeedURL(feed); err != nil {
		return nil, feed, usageError{err}
	}
	return nil, feed, usageError{fmt.Errorf("feed %s is not a GitHub releases API URL (…/repos/OWNER/REPO); signed mirror feeds are not supported by this build yet", connector.RedactURL(feed))}
}

// artifactOf returns what to download for rel on Linux.
func (a *app) artifactOf(rel *updater.Release, src updater.Source) (updater.Artifact, error) {
	return rel.SourceArtifact(), nil
}
