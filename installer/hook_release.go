//go:build !testhooks

package installer

// buildHook is the phase hook of a release build: none. ADLDAPCTL_TEST_HOOK
// means nothing to it.
func buildHook() func(phase string) error { return nil }

var _ = envHook // compiled in only so both builds type-check the same code
