package wire

import (
	plugin "github.com/hashicorp/go-plugin"
)

// ProtocolMajor is the go-plugin application protocol version of goebm.v1. A change of
// major is a new package goebm.v2 and a new handshake version.
const ProtocolMajor = 1

// ProtocolMinor is the minor version of goebm.v1 that this code speaks. Minors only add
// fields and RPCs; each side uses the smaller of the two minors.
const ProtocolMinor = 1

// MinPluginMinor is the oldest plugin minor version the host accepts.
const MinPluginMinor = 0

// Handshake is the go-plugin handshake of goebm energy plugins. The cookie is not a
// security measure: it tells a person who runs a plugin by hand that it is a plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolMajor,
	MagicCookieKey:   "GOEBM_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "9a1e7c3f0b5d4e2a-goebm-energy",
}

// PluginName is the name of the energy plugin in go-plugin's plugin set.
const PluginName = "energy"

// MaxMessageBytes is the message limit that Go plugins set on their server and advertise.
// A gRPC size error is preferable to the OOM killer, so the limit is large but finite.
const MaxMessageBytes = 256 << 20

// HostChunkBytes caps the size of one request the host sends, whatever the plugin
// advertises; larger requests are split by rows.
const HostChunkBytes = 64 << 20

// WindowSize is the HTTP/2 flow-control window, per stream and per connection, that both the
// host and the Go SDK open for their side of a plugin connection. gRPC's default (64 KiB,
// grown by its bandwidth estimator) makes a request or an answer of a few hundred KiB wait
// for window updates, a round trip each; θ and the θ-sized outputs of a request are that size.
const WindowSize = 16 << 20
