#!/usr/bin/env python3
"""Writes the hostile files of scripts/bench/bombs.sh: gzip'd documents with one huge part.

Each file is streamed through zlib in 1 MiB pieces, so a 5 GiB record costs a few MB on disk and
no memory here. Usage: bombs.py DIR NAME... (names below); a file that exists is kept.
"""
import gzip
import json
import os
import sys

GIB = 1 << 30
EVENT = '{"eventID":"after-the-bomb","eventTime":"2024-05-01T00:00:00Z","eventName":"Survivor"}'


def pad(out, byte, size):
    piece = byte * (1 << 20)
    for _ in range(size // len(piece)):
        out.write(piece)
    out.write(byte * (size % len(piece)))


def write(path, head, byte, size, tail):
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
        out.write(head.encode())
        pad(out, byte, size)
        out.write(tail.encode())
    os.replace(tmp, path)


def cloudwatch_head():
    return ('{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",'
            '"subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"{\\"pad\\":\\"')


CLOUDWATCH_TAIL = '\\"}"},{"id":"2","timestamp":2,"message":' + json.dumps(EVENT) + '}]}'

BOMBS = {
    # One record of 1 GiB / 5 GiB (a string of one letter), then a normal event.
    "record-1g": ('{"Records":[{"eventID":"bomb","pad":"', b"A", GIB, '"},' + EVENT + ']}'),
    "record-5g": ('{"Records":[{"eventID":"bomb","pad":"', b"A", 5 * GIB, '"},' + EVENT + ']}'),
    # 5 GiB of spaces between two tokens of the document (no record is big).
    "spaces-5g": ('{"Records":[', b" ", 5 * GIB, EVENT + ']}'),
    # 1 GiB of newlines inside a record (the record is too big; scanning it is the cost).
    "newlines-in-record-1g": ('{"Records":[{"eventID":"ws",', b"\n", GIB, '"x":1},' + EVENT + ']}'),
    # A 1 GiB top-level key, and a 1 GiB value of a key that is not Records.
    "key-1g": ('{"', b"k", GIB, '":1,"Records":[' + EVENT + ']}'),
    "value-1g": ('{"other":"', b"v", GIB, '","Records":[' + EVENT + ']}'),
    # A CloudWatch Logs payload whose first message is 1 GiB.
    "cloudwatch-message-1g": (cloudwatch_head(), b"m", GIB, CLOUDWATCH_TAIL),
}


def main():
    folder, names = sys.argv[1], sys.argv[2:]
    os.makedirs(folder, exist_ok=True)
    for name in names:
        path = os.path.join(folder, name + ".json.gz")
        if not os.path.exists(path):
            write(path, *BOMBS[name])
        print(path)


if __name__ == "__main__":
    main()
