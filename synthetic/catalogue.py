"""The synthetic county's service catalogue, with what drives each service's use.

Each service is run by one provider and recorded by one partner source (a key of
`Settings.sharing_policy`). Beyond the contract columns, a service carries the generator's
view of it: which latent needs drive its use, how often an average eligible resident starts
an episode of it (`rate`, per year), the journey an episode follows, its seasonality, how
much one use makes the next more likely (`habit`) and, for early-help indicators, which
indicator it is. Age bounds sit on the age-band edges used downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from features.geography import AUTHORITIES, AUTHORITY_POSTCODE_DISTRICTS

NEEDS: tuple[str, ...] = (
    "money",
    "isolation",
    "health_mobility",
    "family_stress",
    "skills_work",
    "caring",
    "activity",
    "learning",
)

#: Event types an episode produces, in order (see `synthetic.usage`).
JOURNEYS: tuple[str, ...] = (
    "loan",  # loan
    "booking",  # booking → attendance
    "visit",  # attendance
    "apply",  # enquiry → application → completion | declined
    "course",  # enquiry → enrolment → attendance… → completion
    "refer",  # referral → attendance… → completion | declined
    "notify",  # referral (an indicator recorded about the person)
    "enquire",  # enquiry
)

#: Relative monthly intensity (January first); each profile is rescaled to mean 1.
SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1,) * 12,
    "winter": (1.8, 1.6, 1.2, 0.6, 0.4, 0.3, 0.3, 0.3, 0.6, 1.1, 1.6, 1.9),
    "school_holidays": (0, 0.05, 0.1, 1.2, 0.1, 0.1, 1.5, 2.2, 0.05, 0.3, 0.05, 1.0),
    "term": (1.1, 1.2, 1.2, 0.7, 1.1, 1.1, 0.6, 0.05, 1.0, 1.1, 1.2, 0.8),
    "january": (1.7, 1.3, 1.1, 1.0, 1.0, 1.0, 0.9, 0.8, 1.1, 1.0, 0.9, 0.6),
    "summer": (0.5, 0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.0, 1.0, 0.6, 0.5, 0.5),
    "april": (1.0, 1.0, 1.3, 1.9, 1.2, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8),
    "flu": (0.3, 0.1, 0, 0, 0, 0, 0, 0, 1.6, 4.0, 3.0, 1.5),
    "school_year": (1.4, 0.6, 0.4, 0.5, 0.4, 0.4, 0.4, 0.6, 2.0, 2.2, 1.6, 1.0),
}

#: Early-help indicators an event can carry (the outcome model in `synthetic.early_help`).
INDICATORS: tuple[str, ...] = (
    "domestic_abuse",
    "missing",
    "youth_asb",
    "school_absence",
    "exclusion",
    "social_care_contact",
    "arrears",
    "homelessness",
    "parental_mental_health",
    "substance_misuse",
)


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    description: str
    category: str
    provider: str
    source: str
    min_age: int | None = None
    max_age: int | None = None
    districts: tuple[str, ...] = ("*",)
    means_tested: bool = False
    intervention: bool = False
    active: bool = True
    url: str | None = None
    journey: str = "visit"
    rate: float = 0.1
    needs: dict[str, float] = field(default_factory=dict)
    season: str = "flat"
    habit: float = 0.5
    indicator: str | None = None
    # DATA_CONTRACT v2 (issue 16): filled in by `catalogue()` from SENSITIVE and CONTACT_DETAILS
    sensitive: bool = False
    phone: str | None = None
    contact: str | None = None
    opening_hours: str | None = None
    #: The contract's ``needs`` (``features.contract.NEEDS``): what an intervention addresses,
    #: or what a concern indicator points to (filled from :data:`CONTRACT_NEEDS`).
    addresses: tuple[str, ...] = ()
    #: The contract's ``early_help_indicator`` (filled from :data:`CONCERN_INDICATORS`).
    early_help_indicator: bool = False


HCC = "Hampshire County Council"
POLICE = "Hampshire and Isle of Wight Constabulary"
FIRE = "Hampshire and Isle of Wight Fire and Rescue Service"
NHS = "Hampshire and Isle of Wight NHS Foundation Trust"
HIOW_ICB = "NHS Hampshire and Isle of Wight"
SCHOOLS = "Hampshire schools"
CSC = "Hampshire Children's Services"

#: Short codes and website names of the district and borough councils.
DISTRICT_COUNCILS: dict[str, tuple[str, str, str]] = {
    "Basingstoke and Deane": ("BDBC", "Basingstoke and Deane Borough Council", "basingstoke.gov.uk"),
    "East Hampshire": ("EHDC", "East Hampshire District Council", "easthants.gov.uk"),
    "Eastleigh": ("EBC", "Eastleigh Borough Council", "eastleigh.gov.uk"),
    "Fareham": ("FBC", "Fareham Borough Council", "fareham.gov.uk"),
    "Gosport": ("GBC", "Gosport Borough Council", "gosport.gov.uk"),
    "Hart": ("HDC", "Hart District Council", "hart.gov.uk"),
    "Havant": ("HBC", "Havant Borough Council", "havant.gov.uk"),
    "New Forest": ("NFDC", "New Forest District Council", "newforest.gov.uk"),
    "Rushmoor": ("RBC", "Rushmoor Borough Council", "rushmoor.gov.uk"),
    "Test Valley": ("TVBC", "Test Valley Borough Council", "testvalley.gov.uk"),
    "Winchester": ("WCC", "Winchester City Council", "winchester.gov.uk"),
}


def _county() -> list[Service]:
    S = Service
    hants = "https://www.hants.gov.uk/"
    return [
        # ---- libraries (county council) ---------------------------------------------
        S("HCC-LIB-LOAN", "Library membership and loans", "Borrow books, audiobooks and e-books free from any Hampshire library.",
          "learning", HCC, "libraries", url=hants + "librariesandarchives", journey="loan", rate=0.35,
          needs={"learning": 0.9, "activity": 0.3, "isolation": 0.2}, habit=1.6),
        S("HCC-LIB-RHYME", "Rhyme time and baby bounce", "Free songs and rhymes sessions for babies and toddlers with their carers at the library.",
          "family", HCC, "libraries", 0, 4, url=hants + "librariesandarchives/events", journey="visit", rate=0.35,
          needs={"learning": 0.5, "isolation": 0.6, "family_stress": 0.2}, habit=2.0),
        S("HCC-LIB-SUMMER", "Summer Reading Challenge", "Children read six library books over the summer holidays and collect rewards.",
          "learning", HCC, "libraries", 5, 10, url=hants + "librariesandarchives/summerreading", journey="course", rate=0.25,
          needs={"learning": 1.0, "activity": 0.3}, season="summer", habit=1.0),
        S("HCC-LIB-HOMELIB", "Home library service", "Volunteers bring library books to your door if you cannot get to a library.",
          "care", HCC, "libraries", 65, None, url=hants + "librariesandarchives/homelibrary", journey="loan", rate=0.05,
          needs={"health_mobility": 1.0, "isolation": 0.8, "learning": 0.4}, habit=3.0),
        S("HCC-LIB-DIGI", "Digital skills drop-in", "Friendly help at the library with phones, tablets, email and getting online.",
          "learning", HCC, "libraries", 50, None, url=hants + "librariesandarchives/digital", journey="visit", rate=0.08,
          needs={"skills_work": 0.6, "isolation": 0.6, "learning": 0.5}, habit=1.5),
        S("HCC-LIB-IT", "Free computer and Wi-Fi use", "Book a free computer and printing at your library.",
          "work", HCC, "libraries", 16, None, url=hants + "librariesandarchives/computers", journey="booking", rate=0.15,
          needs={"skills_work": 0.8, "money": 0.5}, habit=1.5),
        S("HCC-LIB-HOMEWORK", "Homework club", "Quiet space and help with homework after school at the library.",
          "learning", HCC, "libraries", 11, 15, url=hants + "librariesandarchives/events", journey="visit", rate=0.1,
          needs={"learning": 0.8, "money": 0.3}, season="term", habit=2.0),
        S("HCC-ARCHIVE", "Hampshire Archives research visit", "Research family and local history at Hampshire Archives and Local Studies.",
          "learning", HCC, "libraries", 18, None, url=hants + "librariesandarchives/archives", journey="booking", rate=0.02,
          needs={"learning": 0.7, "activity": 0.3}, habit=1.0),
        # ---- county council: adults, money, care ------------------------------------
        S("HCC-BLUEBADGE", "Blue Badge parking permit", "Apply for a Blue Badge if you or your child has a condition that makes walking very difficult.",
          "care", HCC, "council", url=hants + "transport/bluebadge", journey="apply", rate=0.03,
          needs={"health_mobility": 1.6}, habit=0.2),
        S("HCC-CONCESSION", "Older person's bus pass", "Free off-peak bus travel across England once you reach State Pension age.",
          "care", HCC, "council", 65, None, url=hants + "transport/concessionary", journey="apply", rate=0.05,
          needs={"isolation": 0.4, "activity": 0.4}, habit=0.1),
        S("HCC-CARERS", "Carer's assessment", "A conversation about the support you need if you look after someone.",
          "care", HCC, "council", 16, None, url=hants + "socialcareandhealth/carers", journey="refer", rate=0.03,
          needs={"caring": 1.8, "health_mobility": 0.2}, habit=0.3),
        S("HCC-CONNECT2", "Connect to Support Hampshire", "Find local groups, equipment and advice to stay independent at home.",
          "care", HCC, "council", 18, None, url="https://www.connecttosupporthampshire.org.uk", journey="enquire", rate=0.06,
          needs={"health_mobility": 0.8, "caring": 0.6, "isolation": 0.4}, habit=0.8),
        S("HCC-ADULTCARE", "Adult social care needs assessment", "Find out what care and support you are eligible for.",
          "care", HCC, "council", 18, None, means_tested=True, url=hants + "socialcareandhealth/adultsocialcare", journey="refer", rate=0.02,
          needs={"health_mobility": 1.7, "isolation": 0.5}, habit=0.8),
        S("HCC-TELECARE", "Telecare alarm", "A personal alarm and sensors that call for help in an emergency at home.",
          "care", HCC, "council", 65, None, means_tested=True, url=hants + "socialcareandhealth/telecare", journey="apply", rate=0.025,
          needs={"health_mobility": 1.3, "isolation": 1.0}, habit=0.1),
        S("HCC-REABLE", "Reablement after hospital", "Short-term support at home to regain confidence after a hospital stay.",
          "care", HCC, "council", 65, None, intervention=False, url=hants + "socialcareandhealth/reablement", journey="refer", rate=0.015,
          needs={"health_mobility": 1.6}, habit=0.2),
        S("HCC-HSF", "Household Support Fund", "Help with food, energy and water bills if you are struggling to pay.",
          "money", HCC, "council", 18, None, means_tested=True, url=hants + "community/household-support-fund", journey="apply", rate=0.03,
          needs={"money": 1.6, "family_stress": 0.4}, season="winter", habit=0.6),
        S("HCC-LWA", "Local Welfare Assistance", "Emergency help with essential items such as food, clothing or a cooker.",
          "money", HCC, "council", 18, None, means_tested=True, url=hants + "community/local-welfare-assistance", journey="apply", rate=0.012,
          needs={"money": 1.8, "family_stress": 0.3}, habit=0.5),
        S("HCC-WARMHOMES", "Warm homes grant", "Grants for insulation and heating for lower-income households.",
          "housing", HCC, "council", 18, None, means_tested=True, url=hants + "community/warmhomes", journey="apply", rate=0.015,
          needs={"money": 1.0, "health_mobility": 0.6}, season="winter", habit=0.1),
        S("HCC-ADULTLEARN", "Hampshire Futures adult learning course", "Part-time courses in English, maths, languages and creative skills.",
          "learning", HCC, "council", 18, None, url=hants + "educationandlearning/adultlearning", journey="course", rate=0.04,
          needs={"learning": 0.9, "skills_work": 0.8}, season="school_year", habit=0.8),
        S("HCC-ESOL", "English for speakers of other languages (ESOL)", "Free English classes for adults whose first language is not English.",
          "learning", HCC, "council", 18, None, url=hants + "educationandlearning/esol", journey="course", rate=0.01,
          needs={"learning": 0.8, "skills_work": 1.0}, season="school_year", habit=1.0),
        S("HCC-ADMISSIONS", "School place application", "Apply for a school place for your child.",
          "learning", HCC, "council", 18, 49, url=hants + "educationandlearning/admissions", journey="apply", rate=0.035,
          needs={"family_stress": 0.2, "learning": 0.2}, season="school_year", habit=0.0),
        S("HCC-FSM", "Free school meals", "Free school lunches for children in families on certain benefits.",
          "money", HCC, "council", 18, 59, means_tested=True, url=hants + "educationandlearning/freeschoolmeals", journey="apply", rate=0.025,
          needs={"money": 1.6, "family_stress": 0.3}, season="school_year", habit=0.2),
        S("HCC-SENDIASS", "SEND information and advice (SENDIASS)", "Impartial advice for parents of children with special educational needs.",
          "family", HCC, "council", 18, 59, url=hants + "educationandlearning/send", journey="enquire", rate=0.015,
          needs={"caring": 1.2, "family_stress": 0.6, "learning": 0.3}, habit=0.8),
        S("HCC-COUNTRYSIDE", "Countryside parks volunteering", "Help look after Hampshire's country parks with a volunteer team.",
          "leisure", HCC, "council", 16, None, url=hants + "thingstodo/countryside", journey="visit", rate=0.03,
          needs={"activity": 0.8, "isolation": 0.6}, season="summer", habit=2.0),
        S("HCC-REGISTRATION", "Birth registration appointment", "Book an appointment to register a birth.",
          "family", HCC, "council", 18, 49, url=hants + "registration/births", journey="booking", rate=0.02,
          needs={"family_stress": 0.1}, habit=0.0),
        S("HCC-ROADSAFE", "Bikeability cycle training", "Cycle training for children at school and in the holidays.",
          "leisure", HCC, "council", 5, 10, url=hants + "transport/bikeability", journey="course", rate=0.08,
          needs={"activity": 0.8}, season="summer", habit=0.2),
        S("HCC-DAYCENTRE", "Older people's day centre", "Company, a hot meal and activities a few days a week.",
          "care", HCC, "council", 65, None, means_tested=True, active=False, url=hants + "socialcareandhealth/daycentres", journey="visit", rate=0.015,
          needs={"isolation": 1.3, "health_mobility": 0.8}, habit=3.0),
        S("HCC-DIGIPASS", "Digital inclusion device loan", "Borrow a tablet with free data to get online.",
          "learning", HCC, "libraries", 50, None, means_tested=True, active=False, url=hants + "librariesandarchives/digital", journey="loan", rate=0.02,
          needs={"skills_work": 0.6, "isolation": 0.8, "money": 0.6}, habit=1.0),
        # ---- county council: children and families (early help) ---------------------
        S("HCC-FAMHUB", "Family Hub drop-in", "Help and activities for families with children from pregnancy to 19 at your local Family Hub.",
          "family", HCC, "council", 0, 17, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/familyhubs", journey="visit", rate=0.06,
          needs={"family_stress": 1.1, "isolation": 0.5, "money": 0.3}, habit=1.8),
        S("HCC-FAMSUPPORT", "Family support service", "A family support worker helps your family make changes that last.",
          "family", HCC, "childrens_social_care", 0, 17, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/familysupport", journey="refer", rate=0.012,
          needs={"family_stress": 1.9, "money": 0.4}, habit=1.0),
        S("HCC-PARENTING", "Parenting programme", "Free group course for parents on behaviour, routines and staying calm.",
          "family", HCC, "council", 18, 59, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/parenting", journey="course", rate=0.012,
          needs={"family_stress": 1.5, "learning": 0.3}, season="term", habit=0.3),
        S("HCC-YOUTHWORK", "Youth worker support", "One-to-one support from a youth worker for young people finding life hard.",
          "family", HCC, "council", 11, 17, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/youth", journey="refer", rate=0.02,
          needs={"family_stress": 1.3, "activity": 0.3, "learning": 0.3}, habit=1.2),
        S("HCC-HAF", "Holiday Activities and Food (HAF)", "Free holiday clubs with a healthy meal for children on free school meals.",
          "family", HCC, "council", 5, 15, means_tested=True, intervention=True, url=hants + "educationandlearning/haf", journey="booking", rate=0.12,
          needs={"money": 1.3, "activity": 0.6, "family_stress": 0.4}, season="school_holidays", habit=1.5),
        S("HCC-YOUNGCARERS", "Young carers support", "Breaks, activities and someone to talk to for young people who care for a family member.",
          "care", HCC, "council", 5, 17, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/youngcarers", journey="refer", rate=0.01,
          needs={"caring": 1.7, "family_stress": 0.6}, habit=1.5),
        S("HCC-EARLYYEARS", "Funded childcare for 2-year-olds", "Free early education and childcare for eligible two-year-olds.",
          "family", HCC, "council", 0, 4, means_tested=True, intervention=True, url=hants + "educationandlearning/childcare", journey="apply", rate=0.06,
          needs={"money": 1.2, "family_stress": 0.5, "learning": 0.3}, season="school_year", habit=0.2),
        S("HCC-SUPPORTEDFAM", "Supporting Families keyworker", "A keyworker works with the whole family on several problems at once.",
          "family", HCC, "childrens_social_care", 18, 59, intervention=True, url=hants + "socialcareandhealth/childrenandfamilies/supportingfamilies", journey="refer", rate=0.006,
          needs={"family_stress": 1.9, "money": 0.6}, habit=1.0),
        S("CSC-CONTACT", "Children's services contact", "A contact to children's services about a child's wellbeing.",
          "safety", CSC, "childrens_social_care", 0, 17, url=hants + "socialcareandhealth/childrenandfamilies", journey="notify", rate=0.025,
          needs={"family_stress": 1.6, "money": 0.3}, habit=0.8, indicator="social_care_contact"),
        # ---- police ------------------------------------------------------------------------
        S("POL-ENCOMPASS", "Operation Encompass notification", "The school is told, in confidence, that a pupil was affected by domestic abuse at home.",
          "safety", POLICE, "police", 0, 17, url="https://www.operationencompass.org", journey="notify", rate=0.022,
          needs={"family_stress": 1.8}, habit=1.2, indicator="domestic_abuse"),
        S("POL-DAVICTIM", "Domestic abuse victim support referral", "Police refer victims of domestic abuse to specialist support.",
          "safety", POLICE, "police", 16, None, url="https://www.hampshire.police.uk/advice/domestic-abuse", journey="notify", rate=0.01,
          needs={"family_stress": 1.7, "isolation": 0.3}, habit=1.2, indicator="domestic_abuse"),
        S("POL-MISSING", "Missing child report", "A report to the police that a child or young person is missing from home or care.",
          "safety", POLICE, "police", 11, 17, url="https://www.hampshire.police.uk/missing", journey="notify", rate=0.006,
          needs={"family_stress": 1.8}, habit=1.5, indicator="missing"),
        S("POL-YOUTHASB", "Youth anti-social behaviour warning", "A warning letter to a young person and their parents about anti-social behaviour.",
          "safety", POLICE, "police", 11, 17, url="https://www.hampshire.police.uk/asb", journey="notify", rate=0.015,
          needs={"family_stress": 1.2, "activity": 0.4, "learning": -0.4}, habit=1.0, indicator="youth_asb"),
        S("POL-CADETS", "Volunteer police cadets", "Young people learn about policing and volunteer in their community.",
          "leisure", POLICE, "police", 11, 17, url="https://www.hampshire.police.uk/cadets", journey="course", rate=0.005,
          needs={"activity": 0.8, "learning": 0.4}, season="school_year", habit=2.0),
        # ---- fire --------------------------------------------------------------------------
        S("FIRE-SAFEWELL", "Safe and Well visit", "Firefighters visit your home to check smoke alarms and fire safety.",
          "safety", FIRE, "fire", 65, None, url="https://www.hantsfire.gov.uk/safeandwell", journey="booking", rate=0.03,
          needs={"health_mobility": 0.9, "isolation": 0.8}, season="winter", habit=0.1),
        S("FIRE-FIRESETTER", "Firesetter intervention", "Fire officers work with young people showing an interest in fire setting.",
          "safety", FIRE, "fire", 5, 17, intervention=True, url="https://www.hantsfire.gov.uk/firesetters", journey="refer", rate=0.002,
          needs={"family_stress": 1.2, "activity": 0.4}, habit=0.5),
        S("FIRE-CADETS", "Fire cadets", "Weekly fire cadets for young people learning teamwork and safety skills.",
          "leisure", FIRE, "fire", 11, 17, url="https://www.hantsfire.gov.uk/cadets", journey="course", rate=0.006,
          needs={"activity": 0.9}, season="school_year", habit=2.0),
        S("FIRE-PRINCES", "Prince's Trust team programme", "A 12-week course with the fire service to build skills and confidence for work.",
          "work", FIRE, "fire", 16, 24, url="https://www.hantsfire.gov.uk/princestrust", journey="course", rate=0.008,
          needs={"skills_work": 1.4, "activity": 0.4}, habit=0.2),
        # ---- NHS and public health ------------------------------------------------------------
        S("NHS-TALKING", "NHS Talking Therapies", "Free talking therapy for stress, anxiety and depression; you can refer yourself.",
          "health", NHS, "nhs", 18, None, url="https://www.talkingtherapies.nhs.uk/hampshire", journey="refer", rate=0.04,
          needs={"family_stress": 0.9, "isolation": 0.7, "money": 0.4}, habit=1.0, indicator="parental_mental_health"),
        S("NHS-CMHT", "Community mental health team", "Specialist support from a community mental health team.",
          "health", NHS, "nhs", 18, None, url="https://www.southernhealth.nhs.uk", journey="refer", rate=0.012,
          needs={"family_stress": 1.1, "isolation": 0.9, "health_mobility": 0.4}, habit=1.5, indicator="parental_mental_health"),
        S("NHS-CAMHS", "Children and young people's mental health (CAMHS)", "Support for children and young people struggling with their mental health.",
          "health", NHS, "nhs", 5, 17, url="https://hampshirecamhs.nhs.uk", journey="refer", rate=0.015,
          needs={"family_stress": 1.3, "isolation": 0.4}, habit=1.2),
        S("NHS-FALLS", "Falls prevention class", "Strength and balance classes to help prevent falls.",
          "health", NHS, "nhs", 65, None, url="https://www.southernhealth.nhs.uk/falls", journey="course", rate=0.02,
          needs={"health_mobility": 1.4, "activity": 0.3}, habit=1.0),
        S("NHS-SOCIALPRESC", "Social prescribing link worker", "Your GP practice's link worker connects you with local groups and support.",
          "health", HIOW_ICB, "nhs", 18, None, url="https://www.hantsiow.icb.nhs.uk/social-prescribing", journey="refer", rate=0.03,
          needs={"isolation": 1.2, "health_mobility": 0.5, "money": 0.3}, habit=0.5),
        S("NHS-MEMORY", "Memory assessment service", "Assessment and support if you are worried about your memory.",
          "health", NHS, "nhs", 60, None, url="https://www.southernhealth.nhs.uk/memory", journey="refer", rate=0.01,
          needs={"health_mobility": 1.2, "caring": 0.4}, habit=0.2),
        S("NHS-FLU", "Flu vaccination", "Free flu vaccine for people aged 65 and over and others at higher risk.",
          "health", HIOW_ICB, "nhs", 65, None, url="https://www.nhs.uk/flu", journey="booking", rate=0.5,
          needs={"health_mobility": 0.4}, season="flu", habit=2.0),
        S("NHS-MATERNITY", "Maternity mental health support", "Perinatal support for parents struggling during pregnancy or after birth.",
          "health", NHS, "nhs", 18, 49, url="https://www.southernhealth.nhs.uk/perinatal", journey="refer", rate=0.006,
          needs={"family_stress": 1.3, "isolation": 0.6}, habit=1.0, indicator="parental_mental_health"),
        S("PH-HEALTHVISIT", "Health visitor contact", "Health visitors support families with babies and young children.",
          "health", "Hampshire 0-19 Public Health Nursing Service", "public_health", 0, 4, url=hants + "socialcareandhealth/publichealth/healthvisiting", journey="visit", rate=0.9,
          needs={"family_stress": 0.5, "health_mobility": 0.3}, habit=0.8),
        S("PH-SCHOOLNURSE", "School nursing", "School nurses help children and young people with health worries.",
          "health", "Hampshire 0-19 Public Health Nursing Service", "public_health", 5, 17, url=hants + "socialcareandhealth/publichealth/schoolnursing", journey="visit", rate=0.05,
          needs={"family_stress": 0.7, "health_mobility": 0.5}, season="term", habit=0.8),
        S("PH-SMOKING", "Stop smoking service", "Free support and nicotine replacement to help you stop smoking.",
          "health", "Smokefree Hampshire", "public_health", 16, None, url="https://www.smokefreehampshire.co.uk", journey="course", rate=0.02,
          needs={"health_mobility": 0.5, "money": 0.7}, season="january", habit=0.4),
        S("PH-WEIGHT", "Healthy weight programme", "A free 12-week programme to eat well and move more.",
          "health", "Hampshire Public Health", "public_health", 18, None, url=hants + "socialcareandhealth/publichealth/healthyweight", journey="course", rate=0.02,
          needs={"health_mobility": 0.7, "activity": -0.3}, season="january", habit=0.3),
        S("PH-HEALTHCHECK", "NHS Health Check", "A free check-up of your heart health for adults aged 40 to 74.",
          "health", "Hampshire Public Health", "public_health", 35, 74, url="https://www.nhs.uk/healthcheck", journey="booking", rate=0.06,
          needs={"health_mobility": 0.4}, habit=0.0),
        S("PH-SUBSTANCE", "Drug and alcohol recovery service", "Confidential support to cut down or stop drinking or using drugs.",
          "health", "Inclusion Hampshire", "public_health", 18, None, url="https://www.inclusionhants.org", journey="refer", rate=0.01,
          needs={"family_stress": 1.2, "money": 0.7, "health_mobility": 0.3}, habit=1.5, indicator="substance_misuse"),
        S("PH-YOUNGSUBST", "Young people's substance misuse service", "Support for young people worried about drugs or alcohol.",
          "health", "Inclusion Hampshire", "public_health", 11, 17, intervention=True, url="https://www.inclusionhants.org/young-people", journey="refer", rate=0.004,
          needs={"family_stress": 1.4}, habit=1.0),
        S("PH-SEXHEALTH", "Sexual health clinic", "Free, confidential sexual health testing and contraception.",
          "health", "Hampshire Sexual Health", "public_health", 16, 49, url="https://www.letstalkaboutit.nhs.uk", journey="booking", rate=0.06,
          needs={"activity": 0.3}, habit=0.5),
        # ---- schools ---------------------------------------------------------------------------
        S("SCH-ABSENCE", "Persistent absence record", "The school records that a pupil has missed at least one day in ten this term.",
          "learning", SCHOOLS, "schools", 5, 15, url=hants + "educationandlearning/attendance", journey="notify", rate=0.12,
          needs={"family_stress": 1.2, "money": 0.6, "health_mobility": 0.4}, season="term", habit=1.5, indicator="school_absence"),
        S("SCH-EXCLUSION", "Suspension or exclusion", "A pupil is suspended or permanently excluded from school.",
          "learning", SCHOOLS, "schools", 5, 15, url=hants + "educationandlearning/exclusions", journey="notify", rate=0.03,
          needs={"family_stress": 1.4, "learning": -0.5}, season="term", habit=1.5, indicator="exclusion"),
        S("SCH-ATTENDSUP", "School attendance support", "An attendance officer works with the family to get a child back into school.",
          "learning", SCHOOLS, "schools", 5, 15, intervention=True, url=hants + "educationandlearning/attendance", journey="refer", rate=0.03,
          needs={"family_stress": 1.3, "money": 0.4}, season="term", habit=0.8),
        S("SCH-BREAKFAST", "School breakfast club", "A free or low-cost breakfast before school starts.",
          "family", SCHOOLS, "schools", 5, 10, url=hants + "educationandlearning/breakfastclubs", journey="visit", rate=0.12,
          needs={"money": 0.9, "family_stress": 0.4}, season="term", habit=3.0),
        S("SCH-ELSA", "Emotional literacy support (ELSA)", "Sessions in school with a trained assistant to help children manage feelings.",
          "family", SCHOOLS, "schools", 5, 15, intervention=True, url=hants + "educationandlearning/elsa", journey="course", rate=0.03,
          needs={"family_stress": 1.2, "isolation": 0.4}, season="term", habit=0.5),
        # ---- voluntary sector ------------------------------------------------------------------
        S("VOL-FOODBANK", "Food bank referral", "Emergency food parcels from your local food bank, on referral.",
          "money", "Trussell food banks in Hampshire", "voluntary", 18, None, means_tested=True, url="https://www.trussell.org.uk/find-a-foodbank", journey="refer", rate=0.03,
          needs={"money": 2.0, "family_stress": 0.4}, season="winter", habit=1.0),
        S("VOL-DEBT", "Debt advice", "Free, confidential debt advice and help to deal with creditors.",
          "money", "Citizens Advice Hampshire", "voluntary", 18, None, url="https://www.citizensadvice.org.uk/local/hampshire", journey="enquire", rate=0.03,
          needs={"money": 1.7, "family_stress": 0.3}, season="january", habit=1.0),
        S("VOL-BENEFITS", "Benefits check", "Check you are getting all the benefits and discounts you are entitled to.",
          "money", "Citizens Advice Hampshire", "voluntary", 18, None, url="https://www.citizensadvice.org.uk/local/hampshire", journey="enquire", rate=0.04,
          needs={"money": 1.4, "health_mobility": 0.3}, habit=0.3),
        S("VOL-ENERGY", "Energy advice", "Advice on cutting energy bills and grants for a warmer home.",
          "money", "Environment Centre (tEC)", "voluntary", 18, None, url="https://environmentcentre.com", journey="enquire", rate=0.03,
          needs={"money": 1.0, "health_mobility": 0.4}, season="winter", habit=0.3),
        S("VOL-BEFRIEND", "Befriending service", "A volunteer calls or visits every week for a chat.",
          "care", "Age Concern Hampshire", "voluntary", 65, None, url="https://www.ageconcernhampshire.org.uk", journey="refer", rate=0.03,
          needs={"isolation": 1.7, "health_mobility": 0.3}, habit=3.0),
        S("VOL-LUNCHCLUB", "Lunch club", "A hot lunch and good company once a week.",
          "care", "Age Concern Hampshire", "voluntary", 65, None, url="https://www.ageconcernhampshire.org.uk/lunch-clubs", journey="visit", rate=0.05,
          needs={"isolation": 1.3, "activity": 0.3}, habit=3.0),
        S("VOL-CARERSCENTRE", "Carers' support group", "Meet other carers and get information and short breaks.",
          "care", "Carers Together Hampshire", "voluntary", 18, None, url="https://www.carerstogether.org.uk", journey="visit", rate=0.025,
          needs={"caring": 1.7, "isolation": 0.4}, habit=2.5),
        S("VOL-DASUPPORT", "Domestic abuse outreach", "Specialist advocates support people affected by domestic abuse.",
          "safety", "Hampshire domestic abuse partnership", "voluntary", 16, None, intervention=True, url="https://www.hampshire.gov.uk/domesticabuse", journey="refer", rate=0.006,
          needs={"family_stress": 1.8}, habit=1.0),
        S("VOL-HOMESTART", "Home-Start family volunteer", "A trained volunteer visits families with young children who are finding things hard.",
          "family", "Home-Start Hampshire", "voluntary", 18, 49, intervention=True, url="https://www.home-start.org.uk", journey="refer", rate=0.008,
          needs={"family_stress": 1.5, "isolation": 0.8}, habit=1.5),
        S("VOL-YOUTHCLUB", "Youth club", "Evening youth club with sport, music and trusted adults to talk to.",
          "leisure", "Hampshire youth voluntary sector", "voluntary", 11, 17, intervention=True, url="https://www.hampshire.gov.uk/youth", journey="visit", rate=0.1,
          needs={"activity": 1.0, "isolation": 0.3, "family_stress": 0.3}, season="term", habit=3.0),
        S("VOL-JOBCLUB", "Job club", "Help with CVs, applications and interviews.",
          "work", "Hampshire community job clubs", "voluntary", 18, 64, url="https://www.hampshire.gov.uk/jobs", journey="visit", rate=0.03,
          needs={"skills_work": 1.6, "money": 0.5}, season="january", habit=1.8),
        S("VOL-VOLUNTEER", "Volunteering opportunities", "Find volunteering that suits your time and interests.",
          "work", "Community First", "voluntary", 16, None, url="https://www.cfirst.org.uk", journey="enquire", rate=0.04,
          needs={"activity": 0.7, "isolation": 0.5, "skills_work": 0.4}, habit=0.8),
        S("VOL-MEN-SHEDS", "Men's shed", "Make, mend and chat in a community workshop.",
          "leisure", "Hampshire Men's Sheds", "voluntary", 50, None, url="https://menssheds.org.uk", journey="visit", rate=0.02,
          needs={"isolation": 1.2, "activity": 0.6}, habit=3.0),
        S("VOL-DIGIBUDDY", "Digital buddies", "A volunteer helps you use a smartphone or tablet at home.",
          "learning", "Age Concern Hampshire", "voluntary", 65, None, url="https://www.ageconcernhampshire.org.uk/digital", journey="course", rate=0.02,
          needs={"isolation": 0.8, "skills_work": 0.5}, habit=0.5),
        S("VOL-BABYBANK", "Baby bank", "Free clothes, equipment and essentials for babies and young children.",
          "family", "Hampshire baby banks", "voluntary", 18, 49, means_tested=True, url="https://www.hampshirebabybanks.org.uk", journey="refer", rate=0.015,
          needs={"money": 1.6, "family_stress": 0.6}, habit=0.8),
        S("VOL-SCHOOLUNIFORM", "School uniform exchange", "Free pre-loved school uniform.",
          "family", "Hampshire community uniform exchanges", "voluntary", 18, 59, url="https://www.hampshire.gov.uk/uniform", journey="visit", rate=0.03,
          needs={"money": 1.3}, season="school_year", habit=0.6),
        S("VOL-COVIDCALLS", "Community support line", "Wellbeing calls set up during the pandemic.",
          "care", "Community First", "voluntary", 65, None, active=False, url="https://www.cfirst.org.uk", journey="enquire", rate=0.02,
          needs={"isolation": 1.4}, habit=1.5),
    ]


def _district(authority: str) -> list[Service]:
    code, council, site = DISTRICT_COUNCILS[authority]
    local = AUTHORITY_POSTCODE_DISTRICTS[authority]
    url = f"https://www.{site}/"
    S = Service
    return [
        S(f"{code}-CTS", f"Council Tax Support ({council})", "A reduction in your council tax bill if you are on a low income.",
          "money", council, "revenues", 18, None, local, means_tested=True, url=url + "counciltax/support", journey="apply", rate=0.035,
          needs={"money": 1.7, "health_mobility": 0.2}, season="april", habit=0.5),
        S(f"{code}-ARREARS", f"Council tax arrears ({council})", "A reminder or summons because council tax has not been paid.",
          "money", council, "revenues", 18, None, local, url=url + "counciltax/arrears", journey="notify", rate=0.03,
          needs={"money": 1.8, "family_stress": 0.5}, season="april", habit=1.0, indicator="arrears"),
        S(f"{code}-HOMELESS", f"Homelessness prevention ({council})", "Advice and help if you are at risk of losing your home.",
          "housing", council, "housing", 18, None, local, url=url + "housing/homelessness", journey="refer", rate=0.008,
          needs={"money": 1.6, "family_stress": 0.9}, habit=0.8, indicator="homelessness"),
        S(f"{code}-LEISURE", f"Leisure centre membership ({authority})", "Gym, swimming and classes at your local leisure centre.",
          "leisure", council, "leisure", 11, None, local, url=url + "leisure", journey="booking", rate=0.15,
          needs={"activity": 1.1, "money": -0.4, "health_mobility": -0.3}, season="january", habit=3.0),
    ]


def _shared_district_services() -> list[Service]:
    S = Service
    return [
        S("DC-RENTARREARS", "Rent arrears support", "Your landlord's tenancy team helps you agree a plan to clear rent arrears.",
          "housing", "Hampshire housing associations", "housing", 18, None, journey="notify", rate=0.02,
          needs={"money": 1.7, "family_stress": 0.6}, habit=1.0, indicator="arrears"),
        S("DC-DFG", "Disabled facilities grant", "A grant for adaptations such as a stairlift or level-access shower.",
          "housing", "Hampshire district councils", "housing", 18, None, means_tested=True, url="https://www.gov.uk/disabled-facilities-grants", journey="apply", rate=0.008,
          needs={"health_mobility": 1.8, "caring": 0.4}, habit=0.1),
        S("DC-HOUSINGREG", "Housing register application", "Apply to join the housing register for social housing.",
          "housing", "Hampshire district councils", "housing", 18, None, url="https://www.hampshirehomechoice.org.uk", journey="apply", rate=0.015,
          needs={"money": 1.2, "family_stress": 0.5}, habit=0.2),
        S("DC-SWIMLESSONS", "Children's swimming lessons", "Learn-to-swim lessons at your local pool.",
          "leisure", "Hampshire leisure trusts", "leisure", 5, 10, url="https://www.everyoneactive.com", journey="course", rate=0.25,
          needs={"activity": 1.0, "money": -0.5}, habit=2.5),
        S("DC-ACTIVEAGE", "Active ageing classes", "Gentle exercise classes such as chair yoga and walking football.",
          "leisure", "Hampshire leisure trusts", "leisure", 60, None, url="https://www.everyoneactive.com", journey="booking", rate=0.05,
          needs={"activity": 0.8, "isolation": 0.6, "health_mobility": 0.3}, habit=2.5),
        S("DC-GPREFERRAL", "Exercise on referral", "A 12-week supported exercise plan at a leisure centre, referred by your GP.",
          "health", "Hampshire leisure trusts", "leisure", 16, None, url="https://www.everyoneactive.com", journey="course", rate=0.015,
          needs={"health_mobility": 1.0, "activity": 0.2}, season="january", habit=0.4),
        S("DC-HOLIDAYCAMP", "Holiday sports camp", "Sport and activities for children in the school holidays.",
          "leisure", "Hampshire leisure trusts", "leisure", 5, 15, url="https://www.everyoneactive.com", journey="booking", rate=0.15,
          needs={"activity": 1.0, "money": -0.6}, season="school_holidays", habit=1.5),
        S("DC-PARKRUN", "Community sport and walking groups", "Free guided walks and beginner running groups.",
          "leisure", "Hampshire district councils", "leisure", 16, None, url="https://www.walkingforhealth.org.uk", journey="visit", rate=0.06,
          needs={"activity": 1.0, "isolation": 0.3}, season="summer", habit=3.0),
        S("DC-GARDENWASTE", "Garden waste collection", "A fortnightly collection of garden waste for an annual fee.",
          "housing", "Hampshire district councils", "council", 18, None, url="https://www.hampshire.gov.uk/waste", journey="apply", rate=0.04,
          needs={"money": -0.6}, season="april", habit=1.0),
        S("DC-ASSISTEDBIN", "Assisted bin collection", "Crews collect your bins from your property if you cannot move them.",
          "care", "Hampshire district councils", "council", 18, None, url="https://www.hampshire.gov.uk/waste", journey="apply", rate=0.008,
          needs={"health_mobility": 1.6}, habit=0.1),
        S("DC-ELECTORAL", "Electoral registration", "Register to vote.",
          "council", "Hampshire district councils", "council", 16, None, url="https://www.gov.uk/register-to-vote", journey="apply", rate=0.03,
          needs={}, habit=0.0),
        S("DC-COMMUNITYGRANT", "Community grants (pilot)", "Small grants for community groups.",
          "council", "Hampshire district councils", "council", 18, None, active=False, url="https://www.hampshire.gov.uk/grants", journey="apply", rate=0.004,
          needs={"activity": 0.5}, habit=0.2),
    ]


#: Services whose use is a concern indicator for early help (contract ``early_help_indicator``):
#: what the police, children's social care and schools record *about* a child or family.
#: Everything else — childcare, family hubs, libraries, parenting courses, food banks,
#: benefits, arrears letters, housing advice, health services — is false: asking for help,
#: being poor or being ill is never a concern indicator by default.
CONCERN_INDICATORS: frozenset[str] = frozenset({
    "CSC-CONTACT", "POL-ENCOMPASS", "POL-DAVICTIM", "POL-MISSING", "POL-YOUTHASB", "SCH-ABSENCE", "SCH-EXCLUSION",
})

#: Contract ``needs``: every intervention's needs addressed, and every concern indicator's needs
#: pointed to (how a raising factor finds the interventions that answer it).
CONTRACT_NEEDS: dict[str, tuple[str, ...]] = {
    # interventions
    "HCC-FAMHUB": ("family_support",),
    "HCC-FAMSUPPORT": ("family_support",),
    "HCC-PARENTING": ("family_support",),
    "HCC-YOUTHWORK": ("youth_safety", "family_support"),
    "HCC-HAF": ("money_housing",),
    "HCC-YOUNGCARERS": ("caring",),
    "HCC-EARLYYEARS": ("learning",),
    "HCC-SUPPORTEDFAM": ("family_support", "money_housing"),
    "FIRE-FIRESETTER": ("youth_safety",),
    "PH-YOUNGSUBST": ("youth_safety", "health_wellbeing"),
    "SCH-ATTENDSUP": ("school_attendance",),
    "SCH-ELSA": ("health_wellbeing", "learning"),
    "VOL-DASUPPORT": ("domestic_abuse",),
    "VOL-HOMESTART": ("family_support",),
    "VOL-YOUTHCLUB": ("youth_safety",),
    # concern indicators
    "CSC-CONTACT": ("family_support",),
    "POL-ENCOMPASS": ("domestic_abuse", "family_support"),
    "POL-DAVICTIM": ("domestic_abuse",),
    "POL-MISSING": ("youth_safety", "family_support"),
    "POL-YOUTHASB": ("youth_safety",),
    "SCH-ABSENCE": ("school_attendance",),
    "SCH-EXCLUSION": ("school_attendance", "learning"),
}


def catalogue() -> list[Service]:
    """Every service in a fixed order (the `service_idx` order used throughout the generator)."""
    services = _county() + _shared_district_services()
    for authority in AUTHORITIES:
        services += _district(authority)
    return [
        _published(replace(s, addresses=CONTRACT_NEEDS.get(s.service_id, ()),
                           early_help_indicator=s.service_id in CONCERN_INDICATORS))
        for s in services
    ]


#: Services whose use is special category data (UK GDPR Art. 9) or otherwise sensitive
#: (DATA_CONTRACT v2 `sensitive`); every other service is written `false` explicitly.
#: District services are matched by suffix (`*-ARREARS`).
SENSITIVE: dict[str, tuple[str, ...]] = {
    "sexual health": ("PH-SEXHEALTH",),
    "substance use": ("PH-SUBSTANCE", "PH-YOUNGSUBST"),
    "mental health": ("NHS-TALKING", "NHS-CMHT", "NHS-CAMHS", "NHS-MATERNITY", "NHS-MEMORY", "SCH-ELSA"),
    "domestic abuse": ("VOL-DASUPPORT", "POL-DAVICTIM", "POL-ENCOMPASS"),
    "SEND": ("HCC-SENDIASS",),
    "social care": ("HCC-ADULTCARE", "HCC-CARERS", "HCC-REABLE", "HCC-TELECARE", "HCC-DAYCENTRE",
                    "CSC-CONTACT", "HCC-FAMSUPPORT", "HCC-SUPPORTEDFAM", "HCC-YOUNGCARERS"),
    # records about a person that would embarrass or endanger them if seen on a shared screen
    "police, school and debt records": ("POL-MISSING", "POL-YOUTHASB", "SCH-ABSENCE", "SCH-EXCLUSION",
                                        "SCH-ATTENDSUP", "FIRE-FIRESETTER", "*-ARREARS", "DC-RENTARREARS",
                                        "*-HOMELESS"),
}

WEEKDAYS = "Monday to Friday, 9am to 5pm"
HANTSDIRECT = "0306 999 0101"  # phone numbers are from Ofcom's ranges reserved for drama: they ring no one
ADULT_SERVICES = "0306 999 0102"

#: Phone, how to apply or get in touch, and opening hours, where a council would publish them
#: (DATA_CONTRACT v2 `phone`, `contact`, `opening_hours`); services not listed have none. A
#: phone of "{council}" is the district council's own number (`_council_phone`).
CONTACT_DETAILS: dict[str, tuple[str | None, str | None, str | None]] = {
    "HCC-LIB-LOAN": (None, "Join at any Hampshire library or online", "Most libraries open Monday to Saturday; times vary"),
    "HCC-LIB-IT": (None, "Book a computer at the library desk or online", "During library opening hours"),
    "HCC-BLUEBADGE": (HANTSDIRECT, "Apply online at GOV.UK, or call for a paper form", "Monday to Friday, 8am to 6pm; Saturday, 9am to 1pm"),
    "HCC-CONCESSION": (HANTSDIRECT, "Apply online or at your local library", "Monday to Friday, 8am to 6pm; Saturday, 9am to 1pm"),
    "HCC-CARERS": (ADULT_SERVICES, "Ask for an assessment online or by phone", "Monday to Friday, 8am to 6pm"),
    "HCC-ADULTCARE": (ADULT_SERVICES, "Call Adult Services to ask for an assessment", "Monday to Friday, 8am to 6pm"),
    "HCC-TELECARE": ("0306 999 0103", "Call to arrange a free home assessment", WEEKDAYS),
    "HCC-HSF": ("0306 999 0104", "Apply online; call if you cannot get online", WEEKDAYS),
    "HCC-LWA": ("0306 999 0104", "Apply online or by phone", WEEKDAYS),
    "HCC-ADMISSIONS": ("0306 999 0105", "Apply online by the national closing date", WEEKDAYS),
    "HCC-FSM": ("0306 999 0105", "Apply online; the check takes a few minutes", WEEKDAYS),
    "HCC-SENDIASS": ("0808 157 0106", "Call the helpline or ask online for impartial advice", "Monday to Thursday, 9am to 4pm; Friday, 9am to 3pm"),
    "HCC-REGISTRATION": ("0306 999 0107", "Book an appointment online or by phone", "Monday to Friday, 9am to 4:30pm"),
    "HCC-FAMHUB": (None, "Drop in to your nearest Family Hub", "Monday to Friday, 9am to 4pm"),
    "NHS-TALKING": ("0306 999 0201", "Refer yourself online or by phone; you do not need to see your GP first", "Monday to Friday, 8am to 8pm"),
    "NHS-CMHT": (None, "Ask your GP for a referral", None),
    "NHS-CAMHS": ("0306 999 0202", "Refer yourself online if you are 14 or over, or ask your GP or school nurse", WEEKDAYS),
    "NHS-FALLS": (None, "Ask your GP or physiotherapist for a referral", None),
    "NHS-SOCIALPRESC": (None, "Ask at your GP practice reception", None),
    "NHS-MEMORY": (None, "Ask your GP for a referral", None),
    "NHS-FLU": ("0306 999 0203", "Book online or by phone, or ask at a pharmacy", "Every day, 8am to 8pm"),
    "PH-SEXHEALTH": ("0306 999 0204", "Book online or by phone; some clinics have walk-in sessions", "Monday to Friday, 8:30am to 6pm"),
    "PH-SUBSTANCE": ("0808 157 0205", "Refer yourself by phone or online; it is confidential", WEEKDAYS),
    "PH-YOUNGSUBST": ("0808 157 0206", "Call or text, or ask a teacher or youth worker to refer you", WEEKDAYS),
    "PH-SMOKING": ("0808 157 0207", "Sign up online or by phone", "Monday to Friday, 9am to 5pm; Saturday, 9am to 1pm"),
    "PH-HEALTHCHECK": (None, "Your GP practice will invite you, or you can ask for one", None),
    "VOL-FOODBANK": (None, "Ask Citizens Advice, your GP or a support worker for a food bank voucher", "Opening times vary by food bank"),
    "VOL-DEBT": ("0808 157 0301", "Call the Adviceline or chat online", WEEKDAYS),
    "VOL-BENEFITS": ("0808 157 0301", "Call the Adviceline or use the online benefits calculator", WEEKDAYS),
    "VOL-ENERGY": ("0808 157 0302", "Call the free energy advice line", WEEKDAYS),
    "VOL-BEFRIEND": ("01632 960303", "Call to refer yourself or someone you know", "Monday to Friday, 9am to 4pm"),
    "VOL-CARERSCENTRE": ("01632 960304", "Call or drop in to a group", "Monday to Friday, 9am to 4pm"),
    "VOL-DASUPPORT": ("0808 157 0305", "Call the helpline for confidential support; in an emergency call 999", "Every day, 24 hours"),
    "VOL-JOBCLUB": (None, "Drop in; no appointment needed", "Tuesday and Thursday, 10am to 12 noon"),
    "FIRE-SAFEWELL": ("0306 999 0401", "Book a free visit online or by phone", WEEKDAYS),
    "*-CTS": ("{council}", "Apply online or call the council tax team", WEEKDAYS),
    "*-ARREARS": ("{council}", "Call the council tax team to agree a payment plan", WEEKDAYS),
    "*-HOMELESS": ("{council}", "Call the housing options team as early as you can; out of hours, use the emergency line", WEEKDAYS),
    "*-LEISURE": (None, "Join online or at reception", "Monday to Friday, 6:30am to 10pm; weekends, 8am to 6pm"),
}


def _matches(service_id: str, pattern: str) -> bool:
    return service_id.endswith(pattern[1:]) if pattern.startswith("*") else service_id == pattern


def _council_phone(service_id: str) -> str:
    """A district council's number (Ofcom's drama range 01632 960xxx), one per council."""
    codes = [code for code, _, _ in DISTRICT_COUNCILS.values()]
    return f"01632 960{500 + 10 * codes.index(service_id.split('-')[0]):03d}"


def _published(service: Service) -> Service:
    """The service with the sensitivity and contact details a council would publish for it."""
    sid = service.service_id
    sensitive = any(_matches(sid, p) for patterns in SENSITIVE.values() for p in patterns)
    phone, contact, hours = next(
        (details for pattern, details in CONTACT_DETAILS.items() if _matches(sid, pattern)), (None, None, None)
    )
    if phone == "{council}":
        phone = _council_phone(sid)
    return replace(service, sensitive=sensitive, phone=phone, contact=contact, opening_hours=hours)


#: Co-use: an episode of the first service raises the next quarter's rate of the second by
#: this multiple (food bank → debt advice → council tax support, carers' assessment →
#: carers' group, …). District services are matched by suffix (`*-CTS`).
CO_USE: tuple[tuple[str, str, float], ...] = (
    ("VOL-FOODBANK", "VOL-DEBT", 4.0),
    ("VOL-FOODBANK", "HCC-HSF", 2.5),
    ("VOL-DEBT", "*-CTS", 3.0),
    ("VOL-DEBT", "VOL-BENEFITS", 2.0),
    ("VOL-BENEFITS", "*-CTS", 2.0),
    ("VOL-BENEFITS", "HCC-FSM", 1.5),
    ("*-CTS", "HCC-HSF", 1.5),
    ("*-ARREARS", "VOL-DEBT", 2.5),
    ("DC-RENTARREARS", "VOL-DEBT", 2.0),
    ("DC-RENTARREARS", "*-HOMELESS", 1.5),
    ("HCC-HSF", "VOL-ENERGY", 1.5),
    ("VOL-ENERGY", "HCC-WARMHOMES", 3.0),
    ("HCC-CARERS", "VOL-CARERSCENTRE", 3.0),
    ("HCC-CARERS", "HCC-CONNECT2", 1.5),
    ("NHS-SOCIALPRESC", "VOL-BEFRIEND", 2.5),
    ("NHS-SOCIALPRESC", "VOL-LUNCHCLUB", 2.0),
    ("NHS-SOCIALPRESC", "DC-ACTIVEAGE", 1.5),
    ("VOL-BEFRIEND", "VOL-LUNCHCLUB", 1.5),
    ("HCC-LIB-DIGI", "VOL-DIGIBUDDY", 1.5),
    ("VOL-JOBCLUB", "HCC-ADULTLEARN", 2.0),
    ("VOL-JOBCLUB", "HCC-LIB-IT", 2.0),
    ("HCC-LIB-IT", "VOL-JOBCLUB", 1.0),
    ("PH-HEALTHVISIT", "HCC-LIB-RHYME", 1.0),
    ("PH-HEALTHVISIT", "HCC-FAMHUB", 1.5),
    ("HCC-FAMHUB", "HCC-PARENTING", 2.0),
    ("HCC-FAMHUB", "VOL-BABYBANK", 1.5),
    ("HCC-PARENTING", "HCC-FAMSUPPORT", 1.0),
    ("SCH-ABSENCE", "SCH-ATTENDSUP", 4.0),
    ("SCH-EXCLUSION", "HCC-YOUTHWORK", 2.0),
    ("POL-YOUTHASB", "HCC-YOUTHWORK", 3.0),
    ("POL-ENCOMPASS", "CSC-CONTACT", 3.0),
    ("POL-DAVICTIM", "VOL-DASUPPORT", 6.0),
    ("CSC-CONTACT", "HCC-FAMSUPPORT", 3.0),
    ("HCC-BLUEBADGE", "DC-ASSISTEDBIN", 1.5),
    ("HCC-ADULTCARE", "HCC-TELECARE", 3.0),
    ("HCC-REABLE", "HCC-TELECARE", 2.0),
    ("NHS-FALLS", "HCC-TELECARE", 1.5),
    ("FIRE-SAFEWELL", "HCC-TELECARE", 1.0),
    ("HCC-LIB-SUMMER", "HCC-LIB-LOAN", 1.0),
    ("HCC-FSM", "HCC-HAF", 3.0),
    ("DC-GPREFERRAL", "*-LEISURE", 2.0),
    ("PH-WEIGHT", "*-LEISURE", 1.0),
    ("NHS-TALKING", "NHS-SOCIALPRESC", 1.0),
)


def co_use_matrix(services: list[Service]) -> np.ndarray:
    """(n_services, n_services) float32: row = earlier service, column = boosted service."""
    ids = [s.service_id for s in services]

    def match(pattern: str) -> list[int]:
        if pattern.startswith("*"):
            return [i for i, sid in enumerate(ids) if sid.endswith(pattern[1:])]
        return [ids.index(pattern)]

    matrix = np.zeros((len(ids), len(ids)), dtype=np.float32)
    for before, after, boost in CO_USE:
        for i in match(before):
            for j in match(after):
                # One council's service only boosts the same council's services.
                both_local = pattern_is_local(ids[i]) and pattern_is_local(ids[j])
                if both_local and ids[i].split("-")[0] != ids[j].split("-")[0]:
                    continue
                matrix[i, j] = boost
    np.fill_diagonal(matrix, [s.habit for s in services])
    return matrix


def pattern_is_local(service_id: str) -> bool:
    """True for a district council's own service (prefixed with its council code)."""
    return service_id.split("-")[0] in {c for c, _, _ in DISTRICT_COUNCILS.values()}
