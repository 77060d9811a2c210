package godocqa

//go:generate go run ./gen -out testdata
