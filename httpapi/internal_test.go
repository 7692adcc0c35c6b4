package httpapi

import "net/netip"

func mustParsePrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
