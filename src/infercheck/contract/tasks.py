"""The Hugging Face tasks infercheck checks, and what kind of input each takes."""

TASKS = (
    "text-generation", "text-classification", "token-classification", "fill-mask", "question-answering",
    "summarization", "translation", "zero-shot-classification", "feature-extraction", "sentence-similarity",
    "automatic-speech-recognition", "audio-classification", "image-classification", "object-detection",
)
AUDIO_TASKS = ("automatic-speech-recognition", "audio-classification")
IMAGE_TASKS = ("image-classification", "object-detection")
BINARY_TASKS = AUDIO_TASKS + IMAGE_TASKS
