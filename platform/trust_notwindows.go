//go:build !windows

package platform

func (p *Platform) windowsCertStore() (CertStore, error) { return nil, ErrNotSupported }
