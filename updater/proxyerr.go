package updater

import (
	"errors"
	"net/http"
)

// IsProxyRefusal reports whether err is a proxy refusing a tunnel (for
// example 407 Proxy Authentication Required): its message already names
// the proxy.
func IsProxyRefusal(err error) bool {
	var pe *proxyStatusError
	return errors.As(err, &pe)
}

// IsProxyAuthRequired reports whether err is a proxy's 407.
func IsProxyAuthRequired(err error) bool {
	var pe *proxyStatusError
	return errors.As(err, &pe) && pe.code == http.StatusProxyAuthRequired
}
