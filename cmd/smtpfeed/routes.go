package main

import (
	"fmt"
	"os"

	"smtpfeed/proto/routemap"
)

// readRoutes reads -M's route map at start; errors name the flag, the
// file and the line.
func readRoutes(path string) (*routemap.Map, error) {
	m, err := parseRoutesFile(path)
	if err != nil {
		return nil, fmt.Errorf("-M: %w", err)
	}
	return m, nil
}

// parseRoutesFile reads a route map; errors name the file and the line.
func parseRoutesFile(path string) (*routemap.Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return routemap.Parse(path, f)
}

// reloadRoutes is SIGHUP: -M's file is read again and, if it parses,
// replaces the map for the lookups that start after; if it does not,
// the old map stays and the log says why. It runs on the loop: a map
// of routemap.MaxRoutes lines holds it one to two seconds.
func (s *server) reloadRoutes() {
	if s.routeMap == "" {
		s.log.Printf("smtpfeed: SIGHUP: no route map (-M) to reload; going on")
		return
	}
	m, err := parseRoutesFile(s.routeMap)
	if err != nil {
		s.log.Printf("smtpfeed: SIGHUP: route map %s not reloaded, the old one stays: %v", s.routeMap, err)
		return
	}
	s.e.SetRoutes(m)
	s.log.Printf("smtpfeed: SIGHUP: route map %s reloaded, %d routes", s.routeMap, m.Len())
}
