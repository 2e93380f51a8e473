// Package updater finds and fetches releases of the Auth0 AD/LDAP Connector.
//
// It owns the release feeds (GitHub releases and signed mirrors), version parsing and
// comparison, the HTTP client (proxy and extra CA settings), and verified
// downloads: artifacts are streamed to a ".partial" file, hashed while
// streaming, checked against the feed's digest, the size the feed announced
// and any digest the user pinned, and only then renamed into place. An
// artifact must be of its feed's kind ([CheckArtifactOrigin]), nothing is
// written past its announced size or the download cap, and its files are
// never followed through a planted link. Every verification failure wraps
// [ErrVerification].
//
// Signed mirrors may also list connector bundles (a release with its
// node_modules built for one node major and ABI): their manifest format,
// the host match ([SelectBundle], [BundleManifest.Fits]) and the mirror
// entries live here; building and installing them is the installer's job.
//
// It knows nothing about where files go: callers pass the download
// directory, and installing what was fetched is the installer's job.
package updater
