//go:build windows

package platform

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/windows"
)

// svcConfig is the part of a service's configuration adldapctl manages.
// It is read and written with QueryServiceConfig/ChangeServiceConfig and
// the description level only: mgr.Service.Config and UpdateConfig also
// touch the delayed-start and SID levels, which Wine's SCM refuses
// ("Invalid level") and adldapctl has no use for.
type svcConfig struct {
	ServiceType, StartType uint32
	BinaryPathName         string
	DisplayName            string
	Description            string
}

func queryConfig(h windows.Handle) (svcConfig, error) {
	n := uint32(1024)
	var b []byte
	for {
		b = make([]byte, n)
		err := windows.QueryServiceConfig(h, (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0])), n, &n)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) || n > 1<<20 {
			return svcConfig{}, err
		}
	}
	p := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
	c := svcConfig{ServiceType: p.ServiceType, StartType: p.StartType,
		BinaryPathName: windows.UTF16PtrToString(p.BinaryPathName), DisplayName: windows.UTF16PtrToString(p.DisplayName)}
	n = 1024
	for {
		d := make([]byte, n)
		err := windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, &d[0], n, &n)
		if err == nil {
			c.Description = windows.UTF16PtrToString((*windows.SERVICE_DESCRIPTION)(unsafe.Pointer(&d[0])).Description)
			break
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(d)) || n > 1<<20 {
			return c, err
		}
	}
	return c, nil
}

func changeConfig(h windows.Handle, c svcConfig) error {
	bin, err := windows.UTF16PtrFromString(c.BinaryPathName)
	if err != nil {
		return err
	}
	disp, err := windows.UTF16PtrFromString(c.DisplayName)
	if err != nil {
		return err
	}
	if err := windows.ChangeServiceConfig(h, c.ServiceType, c.StartType, windows.SERVICE_NO_CHANGE,
		bin, nil, nil, nil, nil, nil, disp); err != nil {
		return err
	}
	desc, err := windows.UTF16PtrFromString(c.Description)
	if err != nil {
		return err
	}
	d := windows.SERVICE_DESCRIPTION{Description: desc}
	return windows.ChangeServiceConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d)))
}
