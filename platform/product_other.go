//go:build !windows

package platform

func (p *Platform) findConnector() (*ConnectorProduct, error) { return nil, ErrNotSupported }
