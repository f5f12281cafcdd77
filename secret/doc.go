// Package secret reads secrets from the environment or from files.
//
// Container platforms (Docker and Kubernetes secrets, systemd credentials)
// hand secrets to a process as files, which keeps them out of the
// environment, where child processes, crash reports and "env" dumps see
// them. [Read] accepts both spellings of a secret: the variable NAME, or
// NAME_FILE naming a file that holds it.
//
// # Where it sits
//
// At start, where a program reads its configuration; nothing here runs
// per call.
//
// # Errors
//
// Both NAME and NAME_FILE set, an unreadable file, a directory or a file
// over [MaxSize] are errors naming the variables (and the path), never the
// value. A file other users can read is accepted with a warning.
//
// # Example
//
//	dsn, err := secret.Read(os.Getenv, "DATABASE_URL", func(msg string) { slog.Warn(msg) })
package secret
