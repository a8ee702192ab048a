"""Small, made-up-in-code lists of English given names and surnames, with skewed frequencies.

No download: the lists are enough for linkage to be realistic (common names collide, rare
ones do not). Frequencies fall off like a Zipf law, as real name frequencies do, so a few
names (Smith, Jones, Oliver, Olivia) are shared by many unrelated people.
"""

from __future__ import annotations

import numpy as np

from features.names import NICKNAMES

MALE = (
    "Oliver", "George", "Harry", "Jack", "Noah", "Charlie", "Jacob", "Alfie", "Freddie", "Oscar", "Leo",
    "Archie", "Henry", "Joshua", "James", "William", "Thomas", "Samuel", "Daniel", "Benjamin", "Edward",
    "Alexander", "Joseph", "Matthew", "Michael", "David", "John", "Robert", "Richard", "Christopher",
    "Andrew", "Stephen", "Peter", "Paul", "Mark", "Anthony", "Nicholas", "Jonathan", "Simon", "Ian",
    "Gary", "Kevin", "Martin", "Neil", "Graham", "Colin", "Keith", "Brian", "Philip", "Adam", "Luke",
    "Ryan", "Callum", "Connor", "Liam", "Ethan", "Mason", "Logan", "Lucas", "Isaac", "Max", "Theodore",
    "Frederick", "Harrison", "Dylan", "Toby", "Reuben", "Arthur", "Elliot", "Finley", "Jake", "Kieran",
    "Lewis", "Owen", "Rhys", "Aaron", "Ben", "Carl", "Dean", "Gareth", "Jason", "Lee", "Nathan", "Scott",
    "Shaun", "Stuart", "Wayne", "Mohammed", "Ali", "Arjun", "Rohan", "Kwame", "Tomasz", "Jakub", "Piotr",
)
FEMALE = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace",
    "Freya", "Florence", "Willow", "Evie", "Poppy", "Charlotte", "Emily", "Jessica", "Sophie", "Chloe",
    "Lucy", "Hannah", "Ella", "Ruby", "Abigail", "Eleanor", "Alice", "Matilda", "Elizabeth", "Margaret",
    "Susan", "Patricia", "Christine", "Deborah", "Helen", "Sarah", "Rachel", "Rebecca", "Victoria",
    "Katherine", "Catherine", "Jennifer", "Samantha", "Alexandra", "Natalie", "Gemma", "Laura", "Claire",
    "Emma", "Joanne", "Nicola", "Lisa", "Karen", "Julie", "Angela", "Tracey", "Wendy", "Janet", "Carol",
    "Jean", "Pauline", "Linda", "Sandra", "Josephine", "Amy", "Zoe", "Megan", "Holly", "Bethany", "Leah",
    "Phoebe", "Harriet", "Imogen", "Maisie", "Daisy", "Erin", "Georgia", "Jasmine", "Kayla", "Lauren",
    "Molly", "Naomi", "Paige", "Stacey", "Fatima", "Aisha", "Priya", "Anika", "Zofia", "Agnieszka", "Ama",
)
SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
    "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott",
    "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly",
    "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox",
    "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
    "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell",
    "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
    "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey", "Graham", "Pearson", "Ahmed",
    "Fletcher", "Walsh", "Kaur", "Gibson", "Howard", "Andrews", "Stewart", "Elliott", "Reynolds",
    "Saunders", "Payne", "Fox", "Ford", "Pearce", "Day", "Brooks", "West", "Lawrence", "Cole", "Atkinson",
    "Bradley", "Spencer", "Gill", "Dawson", "Ball", "Burton", "O'Brien", "Watts", "Rose", "Booth", "Perry",
    "Ryan", "Grant", "Wells", "Armstrong", "Francis", "Rees", "Hayes", "Hart", "Hudson", "Newman", "Barrett",
    "Webster", "Hunter", "Gregory", "Carr", "Lowe", "Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons",
    "Berry", "Stone", "Reid", "Holland", "Hawkins", "Harding", "Porter", "Robertson", "Newton", "Oliver",
    "Reed", "Kennedy", "Williamson", "Bird", "Gardner", "Shah", "Dean", "Lane", "Cooke", "Bates", "Henderson",
    "Parry", "Burgess", "Bishop", "Walton", "Burns", "Nicholson", "Shepherd", "Ross", "Cross", "Long",
    "Freeman", "Warren", "Nicholls", "Hamilton", "Byrne", "Sutton", "McDonald", "Yates", "Hodgson",
    "Robson", "Curtis", "Hopkins", "O'Connor", "Harper", "Coleman", "Watkins", "Moss", "McCarthy", "Chambers",
    "Nowak", "Kowalski", "Mensah", "Okafor", "Nguyen", "Chen", "Wang", "Rahman", "Miah", "Choudhury",
)
STREETS = (
    "High", "Church", "Station", "Main", "Park", "London", "Victoria", "Green", "Manor", "Kings", "Queens",
    "New", "Grange", "Mill", "School", "North", "South", "West", "East", "Chapel", "Meadow", "Orchard",
    "Windsor", "Albert", "Alexandra", "York", "Springfield", "Highfield", "Broadway", "Cedar", "Oak",
    "Elm", "Beech", "Ash", "Willow", "Holly", "Rowan", "Hazel", "Chestnut", "Hawthorn", "Priory", "Abbey",
    "Castle", "Bridge", "Forest", "Heath", "Common", "Winchester", "Southampton", "Portsmouth", "Basingstoke",
    "Romsey", "Alton", "Petersfield", "Fareham", "Havant", "Andover", "Ringwood", "Lymington", "Stockbridge",
)
STREET_TYPES = ("Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Gardens", "Place")


def zipf_weights(n: int, exponent: float = 1.0) -> np.ndarray:
    """Probabilities of ranks 1..n falling off like 1/rank^exponent."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def nicknames_of(name: str) -> tuple[str, ...]:
    return NICKNAMES.get(name, ())
