//go:build testhooks

package installer

// buildHook is the phase hook of a test build (-tags testhooks): it acts
// on ADLDAPCTL_TEST_HOOK.
func buildHook() func(phase string) error { return envHook }
