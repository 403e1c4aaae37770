"""X-SAMPA (the ASCII phonetic alphabet Amazon Polly's ``<phoneme alphabet="x-sampa">`` takes) to IPA."""

from __future__ import annotations

_TABLE = {
    # vowels
    "a": "a",
    "A": "ɑ",
    "{": "æ",
    "6": "ɐ",
    "Q": "ɒ",
    "e": "e",
    "E": "ɛ",
    "@": "ə",
    "3": "ɜ",
    "i": "i",
    "I": "ɪ",
    "o": "o",
    "O": "ɔ",
    "2": "ø",
    "9": "œ",
    "&": "ɶ",
    "u": "u",
    "U": "ʊ",
    "}": "ʉ",
    "V": "ʌ",
    "y": "y",
    "Y": "ʏ",
    "1": "ɨ",
    "7": "ɤ",
    "8": "ɵ",
    "M": "ɯ",
    "@\\": "ɘ",
    "3\\": "ɞ",
    "I\\": "ᵻ",
    "U\\": "ᵿ",
    "E\\": "ɛ̈",
    # consonants
    "b": "b",
    "d": "d",
    "f": "f",
    "g": "ɡ",
    "h": "h",
    "j": "j",
    "k": "k",
    "l": "l",
    "m": "m",
    "n": "n",
    "p": "p",
    "r": "r",
    "s": "s",
    "t": "t",
    "v": "v",
    "w": "w",
    "x": "x",
    "z": "z",
    "B": "β",
    "C": "ç",
    "D": "ð",
    "F": "ɱ",
    "G": "ɣ",
    "H": "ɥ",
    "J": "ɲ",
    "K": "ɬ",
    "L": "ʎ",
    "N": "ŋ",
    "P": "ʋ",
    "R": "ʁ",
    "S": "ʃ",
    "T": "θ",
    "W": "ʍ",
    "X": "χ",
    "Z": "ʒ",
    "?": "ʔ",
    "4": "ɾ",
    "5": "ɫ",
    "r\\": "ɹ",
    "r\\`": "ɻ",
    "h\\": "ɦ",
    "j\\": "ʝ",
    "l\\": "ɺ",
    "z\\": "ʑ",
    "s\\": "ɕ",
    "x\\": "ɧ",
    "R\\": "ʀ",
    "N\\": "ɴ",
    "?\\": "ʕ",
    "K\\": "ɮ",
    "L\\": "ʟ",
    "B\\": "ʙ",
    "G\\": "ɢ",
    "J\\": "ɟ",
    "X\\": "ħ",
    "M\\": "ɰ",
    "H\\": "ʜ",
    "p\\": "ɸ",
    "t`": "ʈ",
    "d`": "ɖ",
    "n`": "ɳ",
    "s`": "ʂ",
    "z`": "ʐ",
    "l`": "ɭ",
    "r`": "ɽ",
    "dZ": "dʒ",
    "tS": "tʃ",
    # marks
    '"': "ˈ",
    "%": "ˌ",
    ":": "ː",
    ":\\": "ˑ",
    ".": ".",
    "=": "̩",
    "~": "̃",
    "_h": "ʰ",
    "_w": "ʷ",
    "_j": "ʲ",
    "'": "ʲ",
    "_0": "̥",
    "_~": "̃",
    "-": "",
    " ": " ",
}
_LONGEST = sorted(_TABLE, key=len, reverse=True)


def xsampa_to_ipa(text: str) -> str:
    """Each X-SAMPA symbol as its IPA character (the longest symbol first: ``r\\``` before ``r\\``); an unknown
    symbol is a ``ValueError`` naming it."""
    return xsampa_to_ipa_at(text)[0]


def xsampa_to_ipa_at(text: str) -> tuple[str, tuple[int, ...]]:
    """The IPA, and for each of its characters the offset in ``text`` of the X-SAMPA symbol it came from."""
    out, offsets, at = [], [], 0
    while at < len(text):
        symbol = next((s for s in _LONGEST if text.startswith(s, at)), None)
        if symbol is None:
            raise ValueError(f"'{text[at]}' is not an X-SAMPA symbol")
        out.append(_TABLE[symbol])
        offsets += [at] * len(_TABLE[symbol])
        at += len(symbol)
    return "".join(out), tuple(offsets)
