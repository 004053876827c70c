package macos

// ParseSignature exposes the code-signature parser to the external tests.
func ParseSignature(data []byte) error {
	_, err := parseSuperBlob(data)
	return err
}
