package main

import (
	"net"
	"strings"
)

// notifySystemd tells systemd (a unit of Type=notify) about the server's
// state, such as "READY=1" once it listens and has opened its stores, or
// "STOPPING=1": one datagram to the socket NOTIFY_SOCKET names. Without
// NOTIFY_SOCKET (not run by systemd, or another Type) it does nothing.
// A name starting with @ is a Linux abstract socket.
func notifySystemd(getenv func(string) string, state string) error {
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(name, "@"); ok {
		name = "\x00" + rest
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
