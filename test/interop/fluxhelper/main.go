// Command fluxhelper pushes and pulls OCI artifacts with Flux's own OCI
// library (github.com/fluxcd/pkg/oci), so the interop tests can check that
// what Flotilla writes Flux reads, and the other way round.
//
// Usage:
//
//	fluxhelper push [-username U -password P] [-source S -revision R -created T] <ref> <dir>
//	fluxhelper pull [-username U -password P] <ref> <dir>
//	fluxhelper build <dir> <artifact.tgz>
//
// push prints the pushed digest reference (repo@sha256:...) on stdout; build
// writes the layer Flux would push for <dir>, without a registry.
// Registries on localhost / 127.0.0.1 are reached over plain HTTP, as
// go-containerregistry does by default.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: fluxhelper push|pull|build [flags] <ref|dir> <dir|artifact.tgz>")
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	username := flags.String("username", "", "registry username (basic auth)")
	password := flags.String("password", "", "registry password (basic auth)")
	source := flags.String("source", "", "org.opencontainers.image.source annotation (push)")
	revision := flags.String("revision", "", "org.opencontainers.image.revision annotation (push)")
	created := flags.String("created", "", "org.opencontainers.image.created annotation, RFC 3339 (push)")
	if err := flags.Parse(os.Args[2:]); err != nil {
		fail(err.Error())
	}
	if flags.NArg() != 2 {
		fail("expected two arguments")
	}

	var options []crane.Option
	if *username != "" {
		options = append(options, crane.WithAuth(&authn.Basic{Username: *username, Password: *password}))
	}
	client := oci.NewClient(options)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	switch command {
	case "build":
		if err := client.Build(flags.Arg(1), flags.Arg(0), nil); err != nil {
			fail(err.Error())
		}
	case "push":
		digestRef, err := client.Push(ctx, flags.Arg(0), flags.Arg(1), oci.WithPushMetadata(oci.Metadata{
			Source:   *source,
			Revision: *revision,
			Created:  *created,
		}))
		if err != nil {
			fail(err.Error())
		}
		fmt.Println(digestRef)
	case "pull":
		if _, err := client.Pull(ctx, flags.Arg(0), flags.Arg(1)); err != nil {
			fail(err.Error())
		}
	default:
		fail("unknown command " + command)
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "fluxhelper:", message)
	os.Exit(1)
}
