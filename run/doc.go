// Package run implements run files and run folders: strict decoding of a run file's TOML into
// typed sections and component options, --set overrides by key path, errors that name the
// file, the line and the key before any work starts, building a run (data, energy, trainer,
// optimizer, sampler, θ) from a decoded file, and training it into a run folder that can be
// resumed.
//
// A run file has the tables [data], [energy] (with [energy.config]), [trainer], [optimizer],
// [sampler], [train], [compute] and [output], and a top-level seed. Component tables
// ([trainer], [optimizer], [sampler], [energy.config]) hold a method (or builtin) name and the
// options of that component as declared by its framework.Entry.
package run
