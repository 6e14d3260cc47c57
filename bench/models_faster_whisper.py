"""faster-whisper on a CTranslate2 Whisper folder: the peer of
`mercator transcribe` in the model benchmark.

Usage: python3 models_faster_whisper.py MODEL_DIR AUDIO_FILE THREADS
Prints JSON with the median real-time factor of three runs (after one
warm-up), with the same settings as Mercator: CPU, int8, beam size 5,
English.
"""

import json
import sys
import time

import faster_whisper
from faster_whisper import WhisperModel


def main():
    model_dir, audio_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
    audio = faster_whisper.decode_audio(audio_path)
    duration = len(audio) / 16000

    def transcribe():
        segments, _ = model.transcribe(audio_path, beam_size=5, language="en")
        return " ".join(segment.text.strip() for segment in segments)

    transcribe()
    rtfs = []
    text = ""
    for _ in range(3):
        start = time.perf_counter()
        text = transcribe()
        rtfs.append((time.perf_counter() - start) / duration)
    rtfs.sort()
    print(json.dumps({
        "version": faster_whisper.__version__,
        "real_time_factor": round(rtfs[1], 4),
        "text": text,
    }))


if __name__ == "__main__":
    main()
