"""The contract as data: the schemas (``schemas/``), the cases (``fixtures/``), the profiles (``profiles/``), the
Hugging Face tasks, what media files are, and the reference endpoint's OpenAPI document. Imports nothing else of
infercheck's: every other layer stands on it."""
