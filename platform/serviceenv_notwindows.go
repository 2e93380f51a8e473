//go:build !windows

package platform

func (p *Platform) windowsServiceEnv() (map[string]string, error) { return nil, ErrNotSupported }

func (p *Platform) setWindowsServiceEnv(map[string]string) (*ServiceEnvResult, error) {
	return nil, ErrNotSupported
}

func (p *Platform) windowsServiceEnvLocation() string { return "" }
