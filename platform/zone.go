package platform

import (
	"sync"
	"time"
)

// zones holds every time zone LoadZone has loaded, by name.
var zones sync.Map

// LoadZone is time.LoadLocation, loaded once per name and process. time.LoadLocation reads
// and parses the zone's file (or the embedded tzdata) on every call — tens of microseconds
// on a booking's path that asks for a branch's zone twice per request (issue 19). A name
// that does not load is not kept: its error is returned every time.
func LoadZone(name string) (*time.Location, error) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), nil
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, z)
	return z, nil
}
