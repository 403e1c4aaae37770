#!/usr/bin/env python3
"""`ffprobe -show_chapters -of json FILE` through the ffmpeg that imageio-ffmpeg ships (it has no ffprobe)."""

import json
import re
import subprocess
import sys

import imageio_ffmpeg

path = sys.argv[-1]
text = subprocess.run(
    [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True, text=True
).stderr
chapters = []
for match in re.finditer(r"Chapter #\d+:\d+: start ([\d.]+), end ([\d.]+)\n\s+Metadata:\n\s+title\s+: (.*)", text):
    chapters.append(
        {"start_time": match.group(1), "end_time": match.group(2), "tags": {"title": match.group(3).strip()}}
    )
print(json.dumps({"chapters": chapters}))
