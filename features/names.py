"""Nicknames and the formal given name each stands for, so that `Bill` can agree with `William`.

Linkage compares a canonical given name as well as the name as written: a partner that
records a nickname then still agrees with the master index. The list is small and English;
extend it here (the synthetic county draws its nicknames from it too).
"""

from __future__ import annotations

#: formal given name -> nicknames a partner may record instead.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy"), "Robert": ("Bob", "Rob", "Bobby"), "Richard": ("Rick", "Dick", "Rich"),
    "James": ("Jim", "Jimmy", "Jamie"), "John": ("Jack", "Johnny"), "Thomas": ("Tom", "Tommy"),
    "Michael": ("Mike", "Mick"), "Christopher": ("Chris",), "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",), "Anthony": ("Tony",), "Joseph": ("Joe",), "Edward": ("Ed", "Eddie", "Ted"),
    "Benjamin": ("Ben",), "Samuel": ("Sam",), "Alexander": ("Alex", "Sandy"), "Nicholas": ("Nick",),
    "Jonathan": ("Jon",), "Andrew": ("Andy", "Drew"), "David": ("Dave",), "Stephen": ("Steve",),
    "Peter": ("Pete",), "Charles": ("Charlie", "Chuck"), "Henry": ("Harry", "Hal"), "Frederick": ("Fred", "Freddie"),
    "Oliver": ("Ollie",), "Harrison": ("Harry",), "Theodore": ("Theo", "Ted"), "Joshua": ("Josh",),
    "Elizabeth": ("Liz", "Beth", "Lizzie", "Betty"), "Margaret": ("Maggie", "Peggy", "Meg"),
    "Katherine": ("Kate", "Katie", "Kath"), "Catherine": ("Cathy", "Kate"), "Jennifer": ("Jen", "Jenny"),
    "Rebecca": ("Becky", "Becca"), "Victoria": ("Vicky", "Tori"), "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"), "Patricia": ("Pat", "Trish"), "Samantha": ("Sam",),
    "Alexandra": ("Alex", "Lexi"), "Charlotte": ("Charlie", "Lottie"), "Eleanor": ("Ellie", "Nell"),
    "Abigail": ("Abbie", "Abby"), "Amelia": ("Millie",), "Isabella": ("Bella", "Izzy"), "Jessica": ("Jess",),
    "Christine": ("Chris", "Tina"), "Josephine": ("Jo", "Josie"), "Natalie": ("Nat",), "Olivia": ("Liv",),
    "Florence": ("Flo",), "Sophia": ("Sophie",), "Gemma": ("Gem",), "Helen": ("Nell",),
}


def canonical_names() -> dict[str, str]:
    """Lower-case name as written -> lower-case formal name (formal names map to themselves).

    A nickname shared by two formal names (`Sam`, `Alex`, `Chris`, `Charlie`, `Kate`,
    `Harry`, `Ted`, `Nell`) maps to the first formal name listed; agreement on it is weaker
    evidence, which the model learns like any other level.
    """
    mapping: dict[str, str] = {}
    for formal, nicks in NICKNAMES.items():
        mapping.setdefault(formal.lower(), formal.lower())
        for nick in nicks:
            mapping.setdefault(nick.lower(), formal.lower())
    return mapping
