// Package config implements goebm's TOML configuration: strict decoding of run files into
// typed sections and component options, --set overrides by key path, and errors that name
// the file, the line and the key before any work starts.
//
// A run file has the tables [data], [energy] (with [energy.config]), [trainer], [optimizer],
// [sampler], [train], [compute] and [output], and a top-level seed. Component tables
// ([trainer], [optimizer], [sampler], [energy.config]) hold a method (or builtin) name and the
// options of that component as declared by its framework.Entry.
package config
