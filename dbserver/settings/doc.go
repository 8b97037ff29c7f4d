// Package settings is the pod contract between the operator and the dbserver: the types of
// settings.json (which the operator renders and the dbserver reads), strict parsing with
// errors that name the field at fault, and a Source that keeps the last good config in force
// while following the kubelet's updates of the mounted Secret files.
//
// The config dir holds settings.json, api-key, signing-key and, when Auth0 is configured,
// auth0-client-secret. Key files are trimmed of surrounding white space and used as they are.
package settings
