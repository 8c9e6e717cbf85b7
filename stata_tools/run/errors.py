"""Stata return codes: what ``r(NNN)`` means, why it usually happens, and the usual fix.

A failed run reports a bare number; the model reading the result needs Stata's wording for it, a
plain reason and a next step. The wording follows StataCorp's documented return codes ([P] error and
[M-2] Errors); codes that are not documented there are deliberately absent, and ``explain`` falls
back to a generic entry for the code's range. Pure data and lookups: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["RETURN_CODES", "ReturnCode", "describe", "explain"]


@dataclass(frozen=True, slots=True)
class ReturnCode:
    """One return code as a reader needs it: Stata's own words plus a plain reading of them."""

    rc: int
    meaning: str
    """Stata's documented short text, generic form (``__`` stands for the name Stata fills in)."""
    explanation: str
    """One plain-English line: why this usually happens."""
    fix: str | None = None
    """The usual fix in one line, naming our tools where they help; None if there is none."""


_READ_MESSAGE = "Read Stata's message; `read_log` shows the full log."
_NUMLIST_FIX = "Fix the number list; `help numlist` explains the forms (1/10, 1(2)9, ...)."
_CLASS_FIX = "Check the class program's code; `help class` documents the class system."
_MATA_INTERNAL = "An internal Mata failure that should not happen; it is not caused by your code."
_MATA_INTERNAL_FIX = "Rerun; if it recurs, report it to StataCorp technical support."
_NETWORK_FIX = "Check the Internet connection and proxy settings (query), then retry."
_SVYSET_FIX = "Fix the fpc variable; `help svyset` explains what it must contain."


_ENTRIES: tuple[ReturnCode, ...] = (
    ReturnCode(
        1,
        "you pressed Break",
        "The run was interrupted by a Break (a cancel or a timeout); Stata does not count it as "
        "an error in the code.",
        "Rerun if the stop was unintended, allowing more time for long commands.",
    ),
    ReturnCode(
        2,
        "connection timed out",
        "An Internet request (ssc install, webuse, net, copy of a URL) took too long to connect "
        "or to answer.",
        "Retry later; set timeout1 / set timeout2 raise the limits. Check proxy settings.",
    ),
    ReturnCode(
        3,
        "no dataset in use",
        "The command works on data in memory, but no dataset is loaded.",
        "Load data first with use, sysuse, webuse or import.",
    ),
    ReturnCode(
        4,
        "no; dataset in memory has changed since last saved",
        "The command would replace the data in memory, which has unsaved changes, so Stata "
        "refused.",
        "Add the clear option (e.g. use file, clear) or save the data first.",
    ),
    ReturnCode(
        5,
        "not sorted",
        "The command needs the data sorted by certain variables and they are not (or sorted was "
        "claimed wrongly).",
        "Sort by the key variables (sort or bysort) and rerun; drop a wrong sorted option.",
    ),
    ReturnCode(
        6,
        "return code from confirm existence when string does not exist",
        "A program checked that an argument was supplied (confirm existence) and it was empty.",
        "Supply the missing argument; `stata_help <command>` shows what the command needs.",
    ),
    ReturnCode(
        7,
        "'__' found where __ expected",
        "A program checked an argument with confirm and got a different kind of thing than it "
        "expected.",
        "Compare the arguments with the command's syntax; `stata_help <command>` shows it.",
    ),
    ReturnCode(
        9,
        "assertion is false",
        "An assert found observations that break the condition it checks (or mvencode found the "
        "code already used).",
        "List the offending rows, e.g. list if !(condition), then fix the data or the assertion.",
    ),
    ReturnCode(
        18,
        "you must start with an empty dataset",
        "The command (e.g. infile) loads new data and will not run while data are in memory.",
        "Run clear first, saving the current data if you still need them.",
    ),
    ReturnCode(
        100,
        "varlist required",
        "The command needs a part that was left out: a variable list, = exp, using, or a by() "
        "option.",
        "Add the missing part; `stata_help <command>` shows the command's syntax.",
    ),
    ReturnCode(
        101,
        "varlist not allowed",
        "The command was given a part it does not accept: a varlist, weights, in, if, = exp or "
        "using.",
        "Remove the part named in Stata's message; `stata_help <command>` shows the syntax.",
    ),
    ReturnCode(
        102,
        "too few variables specified",
        "The command needs more variables than were given.",
        "Add the required variables; `stata_help <command>` shows how many the command takes.",
    ),
    ReturnCode(
        103,
        "too many variables specified",
        "The command takes fewer variables than were given (tabulate, for example, takes one or "
        "two).",
        "Drop the extra variables or loop over them with foreach.",
    ),
    ReturnCode(
        104,
        "nothing to input",
        "input was run without variable names and there is no dataset to add observations to.",
        "Name the new variables on the input command.",
    ),
    ReturnCode(
        106,
        "variable __ is __ in master but __ in using data",
        "append or merge found a variable that is string in one dataset and numeric in the other"
        " (or a strL key).",
        "Make the types match first (destring or tostring); `describe_data` shows the types.",
    ),
    ReturnCode(
        107,
        "not possible with numeric variable",
        "The request only makes sense for a string variable (encode, for example) but got a "
        "numeric one.",
        "Check the variable's type with `describe_data`; perhaps decode was meant.",
    ),
    ReturnCode(
        108,
        "not possible with string variable",
        "The request needs a numeric variable (decode, for example) but got a string one.",
        "Convert it with destring or encode first; `describe_data` shows variable types.",
    ),
    ReturnCode(
        109,
        "type mismatch",
        "An expression mixes text and numbers, e.g. a string variable compared with a number "
        "without quotes.",
        'Quote string values (x == "a") or convert with real() or string(); `describe_data` '
        "shows the types.",
    ),
    ReturnCode(
        110,
        "__ already defined",
        "generate (or label define) tried to create a name that already exists.",
        "Use replace to change an existing variable, or drop it, or choose a new name.",
    ),
    ReturnCode(
        111,
        "__ not found",
        "A variable or other name used in the command does not exist: it is misspelled, dropped,"
        " or no data are loaded.",
        "Check the variable name; `describe_data` lists the variables in memory.",
    ),
    ReturnCode(
        119,
        "statement out of context",
        "The command is not allowed in this place or at this point, e.g. a subcommand used out "
        "of sequence.",
        None,
    ),
    ReturnCode(
        120,
        "invalid %format",
        "A display format such as %9.2f is malformed.",
        "Fix the format; `help format` lists the valid forms.",
    ),
    ReturnCode(
        121,
        "invalid numlist",
        "A number list such as 1/10 or 1(2)9 could not be read.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        122,
        "invalid numlist has too few elements",
        "The number list has fewer numbers than the command needs.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        123,
        "invalid numlist has too many elements",
        "The number list has more numbers than the command allows.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        124,
        "invalid numlist has elements out of order",
        "The command needs the numbers in ascending order and they are not.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        125,
        "invalid numlist has elements outside of allowed range",
        "Some numbers in the list fall outside the range the command accepts.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        126,
        "invalid numlist has noninteger elements",
        "The command needs whole numbers but the list contains fractions.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        127,
        "invalid numlist has missing values",
        "The number list contains a missing value (.) where numbers are required.",
        _NUMLIST_FIX,
    ),
    ReturnCode(
        130,
        "expression too long",
        "The expression is too big for Stata: too many nested parentheses or operators, or too "
        "many sum() calls.",
        "Split the calculation into steps with intermediate variables.",
    ),
    ReturnCode(
        131,
        "not possible with test",
        "test checks only linear hypotheses and this one is nonlinear.",
        "Use testnl for nonlinear hypotheses.",
    ),
    ReturnCode(
        132,
        "too many '(' or '['",
        "The parentheses or brackets in the command do not balance.",
        "Count the opening and closing ( ) and [ ] and fix the mismatch.",
    ),
    ReturnCode(
        133,
        "unknown function __()",
        "The expression calls a function Stata does not know, or uses ( ) where [ ] subscripts "
        "were meant.",
        "Check the function name (`help functions`); subscripts use brackets, e.g. x[_n-1].",
    ),
    ReturnCode(
        134,
        "too many values",
        "A variable has too many distinct values for the request (encode, tabulate, or a graph "
        "by()).",
        "Group the values into fewer categories first, or use another command.",
    ),
    ReturnCode(
        135,
        "not possible with weighted data",
        "predict was asked for a statistic that cannot be computed after a weighted model.",
        "Ask for the prediction or residual only, or refit without weights.",
    ),
    ReturnCode(
        140,
        "repeated categorical variable in term",
        "An anova model or test term repeats a categorical variable, such as a#b#a.",
        "Remove the repeat, or mark the variable as continuous with c. if that was meant.",
    ),
    ReturnCode(
        141,
        "repeated term",
        "The anova model or test lists the same term twice, perhaps written in a different order.",
        "Remove the duplicate term.",
    ),
    ReturnCode(
        145,
        "term contains more than 8 variables",
        "An anova term interacts more than eight variables, which Stata cannot fit.",
        "Use a smaller interaction.",
    ),
    ReturnCode(
        146,
        "too many variables or values (matsize too small)",
        "The model needs a larger matrix than the matsize setting allows (older Stata versions).",
        "Raise the limit with set matsize, or use fewer variables or categories.",
    ),
    ReturnCode(
        147,
        "term not in model",
        "test refers to a term that is not part of the fitted anova model.",
        "Test only terms that appear in the model.",
    ),
    ReturnCode(
        148,
        "too few categories",
        "The number of groups asked for is too small, e.g. group(#) with # below 2.",
        "Ask for more groups.",
    ),
    ReturnCode(
        149,
        "too many categories",
        "The outcome has more categories than the command supports (over 30 for mprobit or "
        "slogit).",
        "Combine categories of the outcome.",
    ),
    ReturnCode(
        151,
        "non r-class program may not set r()",
        "A program stored r() results but was not declared rclass.",
        "Add rclass to its program define line.",
    ),
    ReturnCode(
        152,
        "non e-class program may not set e()",
        "A program stored e() results but was not declared eclass.",
        "Add eclass to its program define line.",
    ),
    ReturnCode(
        153,
        "non s-class program may not set s()",
        "A program stored s() results but was not declared sclass.",
        "Add sclass to its program define line.",
    ),
    ReturnCode(
        161,
        "ado-file has commands outside of program define ... end",
        "An ado-file that Stata loaded has commands outside its program definition.",
        "Put every command of the ado-file between program define and end.",
    ),
    ReturnCode(
        162,
        "ado-file does not define command",
        "An ado-file was found for the command, but it does not define a program of that name.",
        "Make xyz.ado define program xyz, or reinstall the package that provides it.",
    ),
    ReturnCode(
        170,
        "unable to chdir",
        "cd could not change to the folder: it does not exist, is protected, or is not a folder.",
        "Check the path (quote it if it contains spaces) and that the folder exists.",
    ),
    ReturnCode(
        175,
        "factor level out of range",
        "A factor-variable level such as 5.x or ib9.x names a value that is not allowed.",
        "Use a level the variable takes; tabulate it to see its values.",
    ),
    ReturnCode(
        180,
        "invalid attempt to modify label",
        "label define was used on an existing value label without the add, modify or replace "
        "option.",
        "Add the modify (or replace) option to label define.",
    ),
    ReturnCode(
        181,
        "may not label strings",
        "A value label was attached to a string variable; only numeric variables take value "
        "labels.",
        "encode the string variable first, or label a numeric variable.",
    ),
    ReturnCode(
        182,
        "__ not labeled",
        "The request needs a variable with a value label (decode, for example) and this one has "
        "none.",
        "Attach a value label first, or use string() to convert the numbers.",
    ),
    ReturnCode(
        184,
        "options __ and __ may not be combined",
        "Two options were given together that the command does not allow together.",
        "Drop one of the two options.",
    ),
    ReturnCode(
        190,
        "request may not be combined with by",
        "This command, or the in qualifier, cannot be used with the by prefix.",
        "Use if instead of in, or run without by (loop over groups instead).",
    ),
    ReturnCode(
        191,
        "request may not be combined with by() option",
        "This request, or the in qualifier, cannot be combined with the by() option.",
        "Use if instead of in, or drop the by() option.",
    ),
    ReturnCode(
        196,
        "could not restore sort order because variables were dropped",
        "A program failed after its temporary variables were dropped, so the sort order could "
        "not be restored.",
        "Fix the earlier error in the program; re-sort the data if the order matters.",
    ),
    ReturnCode(
        197,
        "invalid syntax",
        "A program used syntax or another parsing command wrongly; the bug is in the program, "
        "not in what was typed.",
        "Fix the syntax (or parsing) statement inside the program.",
    ),
    ReturnCode(
        198,
        "invalid syntax",
        "Stata could not parse the command: a typo, a misplaced comma or option, an invalid name"
        " or expression.",
        "Compare the command with `stata_help <command>`; `read_log` shows the failing line.",
    ),
    ReturnCode(
        199,
        "unrecognized command",
        "Stata does not know this command: it is misspelled, or it comes from a package that is "
        "not installed.",
        "Check the spelling; a community package installs with `install_package` (from SSC by "
        "default).",
    ),
    ReturnCode(
        301,
        "last estimates not found",
        "A postestimation command (predict, test, margins) ran before any model was fitted, or "
        "results were cleared.",
        "Fit the model first in the same run, or bring saved results back with estimates restore.",
    ),
    ReturnCode(
        302,
        "last test not found",
        "test was asked to redisplay its results but no test has been run.",
        "Run test with a hypothesis first.",
    ),
    ReturnCode(
        303,
        "equation not found",
        "A coefficient or result refers to an equation or outcome that the model does not have.",
        "See the names with matrix list e(b) and use the right equation name.",
    ),
    ReturnCode(
        304,
        "ml model not found",
        "mleval, mlsum or mlmatsum ran before the model was defined with the ml commands.",
        "Define the model with ml model first.",
    ),
    ReturnCode(
        305,
        "ml model not found",
        "mleval, mlsum or mlmatsum ran before the model was defined with the ml commands.",
        "Define the model with ml model first.",
    ),
    ReturnCode(
        310,
        "not possible because object(s) in use",
        "mata describe or mata drop named objects that running Mata code is still using.",
        None,
    ),
    ReturnCode(
        321,
        "requested action not valid after most recent estimation command",
        "predict, test or another postestimation command cannot do this after the last model.",
        "Check the model's postestimation help in `stata_help <command>` for what it supports.",
    ),
    ReturnCode(
        322,
        "something that should be true of your estimation results is not",
        "A prefix or postestimation command got estimation results it did not expect and cannot "
        "continue.",
        None,
    ),
    ReturnCode(
        399,
        "may not drop constant",
        "logit or logistic had to drop the constant, so the model may not be identified.",
        "Remove one or more independent variables.",
    ),
    ReturnCode(
        401,
        "may not use noninteger frequency weights",
        "fweight values must be whole counts, and at least one of them is not.",
        "Use aweight or pweight for weights that are not counts.",
    ),
    ReturnCode(
        402,
        "negative weights encountered",
        "The weight variable has negative values, which make no sense as weights.",
        "Check the weight variable; perhaps a different variable was meant.",
    ),
    ReturnCode(
        404,
        "not possible with pweighted data",
        "The requested statistic cannot be computed with sampling (pweight) weights.",
        "Use another statistic or another kind of weight.",
    ),
    ReturnCode(
        406,
        "not possible with analytic weights",
        "The command does not accept aweights.",
        "Use a weight type the command allows; `help weight` lists them.",
    ),
    ReturnCode(
        407,
        "weights must be the same for all observations in a group",
        "The command needs one weight value per group (or per observation across repeated "
        "variables).",
        "Make the weights constant within each group.",
    ),
    ReturnCode(
        409,
        "no variance",
        "A variable or expression is constant, so a calculation that needs variation cannot be "
        "done.",
        "summarize the variable; an if or in condition may have left a single value.",
    ),
    ReturnCode(
        411,
        "nonpositive values encountered",
        "Zero or negative values were found where only positive ones work (a log scale, a time "
        "variable).",
        "Exclude or fix the zero and negative values.",
    ),
    ReturnCode(
        412,
        "redundant or inconsistent constraints",
        "Some of the model's constraints repeat or contradict each other.",
        "List the constraints (constraint dir) and drop the redundant or conflicting one.",
    ),
    ReturnCode(
        416,
        "missing values encountered",
        "A variable has missing values where the command does not allow them.",
        "Exclude them with if !missing(var), or fill them in.",
    ),
    ReturnCode(
        420,
        "__ groups found, 2 required",
        "The grouping variable (for ttest with by(), for example) does not take exactly two "
        "values.",
        "Use a two-valued group variable, or restrict the sample with if.",
    ),
    ReturnCode(
        421,
        "could not determine between-subject error term; use bse() option",
        "anova with repeated() could not work out the between-subject error term by itself.",
        "Specify it with the bse() option.",
    ),
    ReturnCode(
        422,
        "could not determine between-subject basic unit; use bseunit() option",
        "anova with repeated() could not work out the between-subject basic unit by itself.",
        "Specify it with the bseunit() option.",
    ),
    ReturnCode(
        430,
        "convergence not achieved",
        "An iterative (maximum likelihood) estimator stopped without reaching a solution.",
        "Check that the model is identified; simplify it, rescale variables, or try other "
        "starting values.",
    ),
    ReturnCode(
        450,
        "__ is not a 0/1 variable",
        "The command needs a variable coded only 0, 1 or missing, and this one has other values.",
        "Recode the variable to 0/1.",
    ),
    ReturnCode(
        451,
        "invalid values for time variable",
        "The time variable has values it cannot have, such as non-integers.",
        "Fix the time variable, e.g. build it with a date function and an integer format.",
    ),
    ReturnCode(
        452,
        "invalid values for factor variable",
        "A factor variable (i.) has negative or non-integer values.",
        "Recode it to nonnegative integers, or use c. if it is continuous.",
    ),
    ReturnCode(
        459,
        "something that should be true of your data is not",
        "The data break a requirement of the command, e.g. merge keys that are not unique, or "
        "data changed since estimation.",
        "Stata's message names the requirement; check the data with `describe_data` and the "
        "context with `read_log`.",
    ),
    ReturnCode(
        460,
        "fpc must be >= 0",
        "The finite population correction variable given to svyset has negative values.",
        _SVYSET_FIX,
    ),
    ReturnCode(
        461,
        "fpc for all observations within a stratum must be the same",
        "The finite population correction variable varies within a stratum.",
        _SVYSET_FIX,
    ),
    ReturnCode(
        462,
        "fpc must be <=1 if a rate, or >=no. sampled PSUs per stratum if PSU totals",
        "The finite population correction values are neither valid rates nor valid PSU totals.",
        _SVYSET_FIX,
    ),
    ReturnCode(
        463,
        "sum of weights equals zero",
        "The weights add up to zero, so the requested statistic cannot be computed.",
        "Check the weight variable and the subpopulation.",
    ),
    ReturnCode(
        471,
        "esample() invalid",
        "The esample() variable given to ereturn post must hold only 0 and 1.",
        "Recode the sample marker to 0/1 with no missing values.",
    ),
    ReturnCode(
        480,
        "starting values invalid or some RHS variables have missing values",
        "nl got starting values at which the function cannot be computed, or regressors with "
        "missing values.",
        "Give other starting values, or drop observations with missing regressors.",
    ),
    ReturnCode(
        481,
        "equation/system not identified",
        "The system of equations (reg3, for example) is not identified, or nl cannot compute "
        "derivatives.",
        "Check the model's exclusion restrictions and instruments.",
    ),
    ReturnCode(
        482,
        "nonpositive value(s) among __, cannot log transform",
        "nl's lnlsq() option needs positive values and found zero or negative ones.",
        "Exclude the nonpositive values or drop lnlsq().",
    ),
    ReturnCode(
        491,
        "could not find feasible values",
        "ml could not find starting values at which the likelihood can be computed.",
        "Try ml search with repeat(), or set starting values with ml init.",
    ),
    ReturnCode(
        498,
        "various messages",
        "A statistical problem specific to this command occurred; Stata's message says what it is.",
        "Read Stata's message; `read_log` shows the full context.",
    ),
    ReturnCode(
        499,
        "various messages",
        "A statistical problem specific to this command occurred; Stata's message says what it is.",
        "Read Stata's message; `read_log` shows the full context.",
    ),
    ReturnCode(
        501,
        "matrix operation not found",
        "An unknown matrix subcommand, or a function or operator matrix define does not know.",
        "Check the spelling; `help matrix` lists the subcommands.",
    ),
    ReturnCode(
        503,
        "conformability error",
        "Matrices have sizes that do not fit the operation (a 3x2 times a 3x3), or a square one "
        "was needed.",
        "Check the dimensions with matrix list, rowsof() and colsof().",
    ),
    ReturnCode(
        504,
        "matrix has missing values",
        "The matrix operation needs a matrix without missing values.",
        "Find and handle the missing values before the operation.",
    ),
    ReturnCode(
        505,
        "matrix not symmetric",
        "The operation works only on a symmetric matrix and this one is not.",
        None,
    ),
    ReturnCode(
        506,
        "matrix not positive definite",
        "The operation needs a positive-definite matrix; collinear or constant variables often "
        "cause this.",
        "Look for collinear or constant variables and remove them.",
    ),
    ReturnCode(
        507,
        "name conflict",
        "In ereturn post or matrix post, the covariance matrix row and column names do not match"
        " the coefficients.",
        "Give the coefficient vector and covariance matrix the same names.",
    ),
    ReturnCode(
        508,
        "matrix has zero values",
        "A matrix has zero (or negative) values where it must not, e.g. on the diagonal for "
        "sweep().",
        None,
    ),
    ReturnCode(
        509,
        "matrix operators that return matrices not allowed in this context",
        "An expression outside matrix commands (generate, replace) contains a subexpression that"
        " yields a matrix.",
        "Compute the matrix first with matrix define, then use it.",
    ),
    ReturnCode(
        601,
        "file __ not found",
        "No file exists at that path: a typo, a different working directory, or a missing "
        "extension.",
        "Check the path and the working directory (pwd, dir); quote paths that contain spaces.",
    ),
    ReturnCode(
        602,
        "file __ already exists",
        "Stata will not overwrite an existing file unless told to.",
        "Add the replace option, or write to a new file name.",
    ),
    ReturnCode(
        603,
        "file __ could not be opened",
        "The file exists but could not be opened: it is open elsewhere, locked, or the folder is"
        " not writable.",
        "Close it in other programs and check the folder's permissions.",
    ),
    ReturnCode(
        604,
        "log file already open",
        "A log was opened while another log is already open.",
        "Close it first (capture log close) or give each log a name().",
    ),
    ReturnCode(
        606,
        "no log file open",
        "log close, log on or log off was used when no log was open.",
        "Use capture log close when a log may not be open.",
    ),
    ReturnCode(
        607,
        "no cmdlog file open",
        "cmdlog close, on or off was used when no command log was open.",
        "Use capture cmdlog close when a command log may not be open.",
    ),
    ReturnCode(
        608,
        "file is read-only; cannot be modified or erased",
        "The operating system marks the file read-only, so Stata cannot change or delete it.",
        "Write to another file, or change the file's permissions.",
    ),
    ReturnCode(
        609,
        "file xp format",
        "The file is stored in an unsupported cross-product format.",
        None,
    ),
    ReturnCode(
        610,
        "file __ not Stata format",
        "The file is not a Stata dataset, or it was written by a newer Stata than this one.",
        "Use import delimited or import excel for other formats, or check the file name.",
    ),
    ReturnCode(
        611,
        "record too long",
        "A record read by infile with a dictionary is longer than Stata allows.",
        "Read the file without a dictionary, or with import delimited.",
    ),
    ReturnCode(
        612,
        "unexpected end of file",
        "A file ended early: a dictionary without its closing brace, or #delimit ; with no ; "
        "before end.",
        "Check the end of the file for the missing brace, semicolon or final newline.",
    ),
    ReturnCode(
        613,
        "file does not contain dictionary",
        "infile using was pointed at a file that does not begin with the word dictionary.",
        "Give infile a varlist for raw data, or fix the dictionary file.",
    ),
    ReturnCode(
        614,
        "dictionary invalid",
        "The infile dictionary has an error; Stata shows its lines up to the one that failed.",
        "Fix the dictionary line shown last.",
    ),
    ReturnCode(
        616,
        "wrong number of values in checksum file",
        "The checksum file used to verify another file is not in the expected format.",
        None,
    ),
    ReturnCode(
        621,
        "already preserved",
        "preserve was called while the data were already preserved.",
        "restore before preserving again, or preserve only once.",
    ),
    ReturnCode(
        622,
        "nothing to restore",
        "restore was called but the data had not been preserved.",
        "Call preserve before restore.",
    ),
    ReturnCode(
        631,
        "host not found",
        "The Internet host name could not be found: no connection, a mistyped URL, or a DNS "
        "problem.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        632,
        "web filename not supported in this context",
        "A URL was given where the command needs a local file.",
        "Copy the file locally first (copy <url> <file>) and use the copy.",
    ),
    ReturnCode(
        633,
        "may not write files over Internet",
        "The command tried to write to a URL; Stata can only read files from the web.",
        "Write to a local file instead.",
    ),
    ReturnCode(
        639,
        "file transmission error (checksums do not match)",
        "A downloaded file arrived corrupted.",
        "Retry the download.",
    ),
    ReturnCode(
        640,
        "package file too long",
        "A package description (.pkg) file is longer than Stata allows.",
        None,
    ),
    ReturnCode(
        641,
        "package file invalid",
        "A package description (.pkg) file could not be understood.",
        None,
    ),
    ReturnCode(
        651,
        "may not seek past end of file",
        "file seek asked for a position beyond the end of the file, or seeked in an append-only "
        "file.",
        "Seek to the end of the file and then write to extend it.",
    ),
    ReturnCode(
        660,
        "proxy host not found",
        "The proxy server's host name could not be found.",
        "Check the proxy settings with query.",
    ),
    ReturnCode(
        662,
        "proxy server refused request to send",
        "The proxy server was reached but would not pass data back to Stata.",
        "Check the proxy host and port with query.",
    ),
    ReturnCode(
        663,
        "remote connection to proxy failed",
        "The proxy server did not respond: wrong host or port, or the proxy is down.",
        "Check the proxy host and port with query.",
    ),
    ReturnCode(
        665,
        "could not set socket nonblocking",
        "A network socket could not be configured.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        667,
        "wrong version winsock.dll",
        "Windows networking (winsock.dll) is the wrong version.",
        None,
    ),
    ReturnCode(
        668,
        "could not find a valid winsock.dll",
        "Windows networking (winsock.dll) could not be found.",
        None,
    ),
    ReturnCode(
        669,
        "invalid URL",
        "The web address is malformed.",
        "Check the URL's spelling and form.",
    ),
    ReturnCode(
        670,
        "invalid network port number",
        "The port number in the address or settings is not valid.",
        "Check the port number.",
    ),
    ReturnCode(
        671,
        "unknown network protocol",
        "The address uses a protocol Stata does not support.",
        "Use an http:// or https:// address.",
    ),
    ReturnCode(
        672,
        "server refused to send file",
        "The server or a firewall or caching proxy on the way refused to send the file.",
        "Check the proxy settings, or ask the network administrator about the firewall.",
    ),
    ReturnCode(
        673,
        "authorization required by server",
        "The server requires a login before it will send the file.",
        None,
    ),
    ReturnCode(
        674,
        "unexpected response from server",
        "The server answered with something Stata did not expect.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        675,
        "server reported server error",
        "The web server reported an error of its own.",
        "Retry later.",
    ),
    ReturnCode(
        676,
        "server refused request to send",
        "The web server refused the request.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        677,
        "remote connection failed",
        "Stata could not contact the host: it is down, or web access must go through a proxy.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        678,
        "could not open local network socket",
        "Stata could not open a network connection on this computer.",
        _NETWORK_FIX,
    ),
    ReturnCode(
        681,
        "too many open files",
        "Too many files are open at once.",
        "Close files (file close, frames, logs) that are no longer needed.",
    ),
    ReturnCode(
        682,
        "could not connect to odbc dsn",
        "The ODBC data source refused the connection, usually a wrong user name or password.",
        "set debug on shows the ODBC driver's own message.",
    ),
    ReturnCode(
        683,
        "could not fetch variable in odbc table",
        "A requested column was not found in the ODBC table, or the driver failed to return it.",
        "set debug on shows the ODBC driver's own message.",
    ),
    ReturnCode(
        688,
        "file is corrupt",
        "The file's contents are damaged.",
        "Recreate the file or get a fresh copy.",
    ),
    ReturnCode(
        691,
        "I/O error",
        "The file system failed while reading or writing, often a hardware fault or a full disk.",
        "Check free disk space and the drive, then retry.",
    ),
    ReturnCode(
        692,
        "file I/O error on read",
        "Reading from the file failed.",
        "Check that the file and its drive are accessible, then retry.",
    ),
    ReturnCode(
        693,
        "file I/O error on write",
        "Writing to the file failed.",
        "Check free disk space and write permission, then retry.",
    ),
    ReturnCode(
        694,
        "could not rename file",
        "The file is in a folder the operating system marks read-only.",
        "Use a folder you can write to.",
    ),
    ReturnCode(
        695,
        "could not copy file",
        "update swap could not back up the Stata executable, so the update was not done.",
        None,
    ),
    ReturnCode(
        696,
        "__ is temporarily unavailable",
        "A resource Stata needs is temporarily unavailable.",
        "Retry later.",
    ),
    ReturnCode(
        699,
        "insufficient disk space",
        "The disk filled up while Stata was writing a file; the file was closed and probably "
        "erased.",
        "Free disk space or write to another drive, then rerun.",
    ),
    ReturnCode(
        702,
        "op. sys. refused to start new process",
        "The operating system would not start the program Stata asked for (shell, !, winexec).",
        None,
    ),
    ReturnCode(
        703,
        "op. sys. refused to open pipe",
        "The operating system would not open a pipe for Stata.",
        None,
    ),
    ReturnCode(
        791,
        "system administrator will not allow you to change this setting",
        "The setting is locked by the system administrator.",
        None,
    ),
    ReturnCode(
        900,
        "no room to add more variables",
        "The dataset reached the maximum number of variables (maxvar).",
        "Raise the limit with set maxvar (Stata/SE or MP) or drop variables you do not need.",
    ),
    ReturnCode(
        901,
        "no room to add more observations",
        "The dataset reached the maximum number of observations this Stata allows.",
        "Work with a subset of the data, or collapse it.",
    ),
    ReturnCode(
        902,
        "no room to add more variables due to width",
        "An observation would need more bytes than Stata allows (the sum of all variable widths).",
        "Run compress, or drop or shorten variables.",
    ),
    ReturnCode(
        903,
        "no room to promote variable (e.g., change int to float) because of width",
        "Changing a variable to a wider type would make observations wider than Stata allows.",
        "Run compress, or drop or shorten other variables.",
    ),
    ReturnCode(
        907,
        "maxvar too small",
        "A model or interaction needs more variables than maxvar allows, often a continuous "
        "variable used as i.",
        "Raise maxvar, or use c. for continuous variables in interactions.",
    ),
    ReturnCode(
        908,
        "matsize too small",
        "The matsize setting is too small for the requested model (older Stata versions).",
        "Raise it with set matsize, or use fewer variables.",
    ),
    ReturnCode(
        909,
        "op. sys. refuses to provide memory",
        "Stata could not get more memory from the operating system, or the max_memory setting "
        "stopped it.",
        "Free memory (drop unneeded data, close other programs) or raise max_memory.",
    ),
    ReturnCode(
        910,
        "value too small",
        "A memory-related setting (maxvar, max_memory, ...) was set below its minimum.",
        "Use a larger value.",
    ),
    ReturnCode(
        912,
        "value too large",
        "A memory-related setting (maxvar, max_memory, ...) was set above its maximum.",
        "Use a smaller value.",
    ),
    ReturnCode(
        913,
        "op. sys. refuses to provide sufficient memory",
        "set segmentsize asked for memory that the operating system could not provide.",
        None,
    ),
    ReturnCode(
        914,
        "op. sys. refused to allow Stata to open a temporary file",
        "Stata needed a temporary file for memory and the operating system would not allow it.",
        "Check the temporary folder's free space and permissions.",
    ),
    ReturnCode(
        915,
        "unable to allocate matrix",
        "A matrix or model is larger than this Stata flavor allows (Stata/IC: 800 rows or "
        "columns).",
        "Use fewer variables, set emptycells drop, or use c. for continuous variables.",
    ),
    ReturnCode(
        916,
        "unable to allocate matrix",
        "A matrix or model needs more memory than the frozen max_memory setting allows.",
        "Use fewer variables, set emptycells drop, or ask the administrator about max_memory.",
    ),
    ReturnCode(
        920,
        "too many macros",
        "Macro substitution is nested too deeply or would make text longer than a macro may hold.",
        "Simplify the macro references, or split the text.",
    ),
    ReturnCode(
        950,
        "insufficient memory",
        "There is not enough memory for the request.",
        "Run discard and retry; dropping data, labels or macros frees memory.",
    ),
    ReturnCode(
        1000,
        "system limit exceeded",
        "The request exceeds one of Stata's fixed limits.",
        "Check the limits in `stata_help limits` and split the work.",
    ),
    ReturnCode(
        1001,
        "too many values",
        "The table would have more rows or columns than Stata allows.",
        "Tabulate fewer values, or swap the row and column variables.",
    ),
    ReturnCode(
        1002,
        "too many by variables",
        "More by variables were given than Stata allows.",
        "Combine them into one group variable with egen group().",
    ),
    ReturnCode(
        1003,
        "too many options",
        "More than 256 options were given.",
        None,
    ),
    ReturnCode(
        1004,
        "command too long",
        "A command in a do-file or program is longer than Stata allows.",
        "Split the command, e.g. build long lists in macros and loop over them.",
    ),
    ReturnCode(
        1400,
        "numerical overflow",
        "A calculation produced a number too large to handle, often too many effective "
        "(weighted) observations.",
        "Rescale the variables or weights.",
    ),
    ReturnCode(
        2000,
        "no observations",
        "There are no observations to compute on, often because if/in or missing values excluded"
        " every row.",
        "Check the if/in conditions and missing values (count if ...); `describe_data` shows "
        "what is loaded.",
    ),
    ReturnCode(
        2001,
        "insufficient observations",
        "There are some observations, but too few for the requested calculation.",
        "Check the sample: if/in conditions, missing values, and the number of groups.",
    ),
    ReturnCode(
        2100,
        "update incomplete",
        "An earlier update of Stata did not finish properly.",
        "Run update all.",
    ),
    ReturnCode(
        2101,
        "incorrect executable name",
        "The Stata executable being updated has been renamed.",
        "Restore the executable's original name and update again.",
    ),
    ReturnCode(
        2102,
        "another running instance",
        "Another copy of Stata is running and could interfere with the update.",
        "Close the other Stata sessions and update again.",
    ),
    ReturnCode(
        3000,
        "(message varies)",
        "Mata could not compile what was typed; the message says what it could not read.",
        "Fix the Mata code at the place the message points to.",
    ),
    ReturnCode(
        3001,
        "incorrect number of arguments",
        "A Mata function was called with more or fewer arguments than it takes.",
        "Fix the call's argument list.",
    ),
    ReturnCode(
        3002,
        "identical arguments not allowed",
        "A Mata function got the same variable for two arguments that it must write separately.",
        "Pass distinct variables for those arguments.",
    ),
    ReturnCode(
        3010,
        "attempt to dereference NULL pointer",
        "Mata code used *p while the pointer p is NULL.",
        "Make sure the pointer is set before it is used.",
    ),
    ReturnCode(
        3011,
        "invalid lval",
        "The left side of a Mata assignment is not something a value can be assigned to.",
        None,
    ),
    ReturnCode(
        3012,
        "undefined operation on pointer",
        "Mata code applied an operation that pointers do not support, such as adding two pointers.",
        None,
    ),
    ReturnCode(
        3020,
        "class child/parent compiled at different times",
        "A Mata class extends a parent class that changed after the child was compiled.",
        "Recompile the classes that depend on it.",
    ),
    ReturnCode(
        3021,
        "class compiled at different times",
        "A Mata function uses a class that changed after the function was compiled.",
        "Recompile the function.",
    ),
    ReturnCode(
        3022,
        "function not supported on this platform",
        "The Mata function exists only for another operating system or flavor of Stata.",
        None,
    ),
    ReturnCode(
        3101,
        "matrix found where function required",
        "A Mata function argument must be a function, and a matrix was passed.",
        None,
    ),
    ReturnCode(
        3102,
        "function found where matrix required",
        "A Mata function argument must be a matrix, vector or scalar, and a function was passed.",
        None,
    ),
    ReturnCode(
        3103,
        "view found where array required",
        "This Mata function does not accept a view for that argument.",
        "Copy the view into a matrix (X = V) and pass the copy.",
    ),
    ReturnCode(
        3104,
        "array found where view required",
        "This Mata function needs a view (st_view()) for that argument.",
        None,
    ),
    ReturnCode(
        3200,
        "conformability error",
        "A Mata matrix, vector or scalar has the wrong number of rows or columns for the "
        "operation.",
        "Check the dimensions with rows() and cols().",
    ),
    ReturnCode(
        3201,
        "vector required",
        "A Mata argument must be a row or column vector, and a matrix was passed.",
        None,
    ),
    ReturnCode(
        3202,
        "rowvector required",
        "A Mata argument must be a row vector (1 x c).",
        None,
    ),
    ReturnCode(
        3203,
        "colvector required",
        "A Mata argument must be a column vector (r x 1).",
        None,
    ),
    ReturnCode(
        3204,
        "matrix found where scalar required",
        "A Mata argument must be a single value (1 x 1), and a larger matrix was passed.",
        None,
    ),
    ReturnCode(
        3205,
        "square matrix required",
        "A Mata argument must be a square (n x n) matrix.",
        None,
    ),
    ReturnCode(
        3206,
        "invalid use of view containing op.vars",
        "A Mata view built with factor variables was used where they are not supported.",
        None,
    ),
    ReturnCode(
        3250,
        "type mismatch",
        "A Mata argument has the wrong element type, e.g. a string where a real was expected.",
        None,
    ),
    ReturnCode(
        3251,
        "nonnumeric found where numeric required",
        "A Mata argument must be real or complex and it is not.",
        None,
    ),
    ReturnCode(
        3252,
        "noncomplex found where complex required",
        "A Mata argument must be complex and it is not.",
        None,
    ),
    ReturnCode(
        3253,
        "nonreal found where real required",
        "A Mata argument must be real (numeric) and it is not, e.g. a string was passed.",
        None,
    ),
    ReturnCode(
        3254,
        "nonstring found where string required",
        "A Mata argument must be a string and it is not.",
        None,
    ),
    ReturnCode(
        3255,
        "real or string required",
        "A Mata argument must be real or string and it is neither.",
        None,
    ),
    ReturnCode(
        3256,
        "numeric or string required",
        "A Mata argument must be real, complex or string and it is none of these.",
        None,
    ),
    ReturnCode(
        3257,
        "nonpointer found where pointer required",
        "A Mata argument must be a pointer and it is not.",
        None,
    ),
    ReturnCode(
        3258,
        "nonvoid found where void required",
        "A Mata argument must be void and it is not.",
        None,
    ),
    ReturnCode(
        3259,
        "nonstruct found where struct required",
        "A Mata function expected a structure and got something else.",
        None,
    ),
    ReturnCode(
        3260,
        "nonclass found where class required",
        "A Mata function expected a class and got something else.",
        None,
    ),
    ReturnCode(
        3261,
        "non class/struct found where class/struct required",
        "A Mata function expected a class or structure and got something else.",
        None,
    ),
    ReturnCode(
        3300,
        "argument out of range",
        "A Mata argument has the right type but an invalid value, like row 20 of a 4 x 5 matrix.",
        None,
    ),
    ReturnCode(
        3301,
        "subscript invalid",
        "A Mata subscript refers to a row or column that does not exist, or has the wrong number"
        " of elements.",
        "Check the subscripts against rows() and cols().",
    ),
    ReturnCode(
        3302,
        "invalid %fmt",
        "A Mata display format is malformed.",
        "Fix the format; `help format` lists the valid forms.",
    ),
    ReturnCode(
        3303,
        "invalid permutation vector",
        "A vector meant as a permutation is not a reordering of 1 through n.",
        None,
    ),
    ReturnCode(
        3304,
        "struct nested too deeply",
        "Mata structures are nested deeper than 500 levels.",
        None,
    ),
    ReturnCode(
        3305,
        "class nested too deeply",
        "Mata classes are nested deeper than 500 levels.",
        None,
    ),
    ReturnCode(
        3351,
        "argument has missing values",
        "This Mata function does not allow missing values in its argument.",
        "Remove or replace the missing values first.",
    ),
    ReturnCode(
        3352,
        "singular matrix",
        "The matrix is singular, so the requested result cannot be computed.",
        "Check for collinear columns, or use a function that handles singular matrices.",
    ),
    ReturnCode(
        3353,
        "matrix not positive definite",
        "The matrix is not positive definite, so the requested result cannot be computed.",
        None,
    ),
    ReturnCode(
        3360,
        "failure to converge",
        "A Mata algorithm did not converge, probably because the input matrix is extreme.",
        None,
    ),
    ReturnCode(
        3492,
        "resulting string too long",
        "A string the function was building exceeded a limit set by the function or its caller.",
        None,
    ),
    ReturnCode(
        3498,
        "(message varies)",
        "A problem specific to this Mata function occurred; its message describes it.",
        "Read the message; `read_log` shows the full traceback.",
    ),
    ReturnCode(
        3499,
        "__ not found",
        "A Mata variable or function could not be found; a function is not loaded, in a library,"
        " or in a .mo file.",
        "Check the name's spelling, and that the defining code or library was loaded first.",
    ),
    ReturnCode(
        3500,
        "invalid Stata variable name",
        "A name held in a Mata string is not a valid Stata variable name.",
        None,
    ),
    ReturnCode(
        3598,
        "Stata returned error",
        "A Mata function asked Stata to do something (e.g. through stata()) and Stata could not.",
        "Look for the Stata error shown before this one; `read_log` has the full output.",
    ),
    ReturnCode(
        3601,
        "invalid file handle",
        "The number given does not belong to a file opened with fopen().",
        None,
    ),
    ReturnCode(
        3602,
        "invalid filename",
        "The file name given to a Mata file function is invalid.",
        None,
    ),
    ReturnCode(
        3603,
        "invalid file mode",
        "The file mode (read, write, read-write, ...) given to fopen() is invalid.",
        None,
    ),
    ReturnCode(
        3610,
        "file from more recent version of Stata",
        "The file was written by a newer Stata than the one running.",
        None,
    ),
    ReturnCode(
        3611,
        "too many open files",
        "Mata already has the maximum number of files open.",
        "Close files with fclose() when done with them.",
    ),
    ReturnCode(
        3621,
        "attempt to write read-only file",
        "Mata tried to write to a file opened read-only.",
        None,
    ),
    ReturnCode(
        3622,
        "attempt to read write-only file",
        "Mata tried to read a file opened write-only.",
        None,
    ),
    ReturnCode(
        3623,
        "attempt to seek append-only file",
        "Mata tried to seek in a file opened append-only.",
        None,
    ),
    ReturnCode(
        3698,
        "file seek error",
        "A seek to an invalid part of the file failed.",
        None,
    ),
    ReturnCode(
        3900,
        "out of memory",
        "The operating system refused Mata more memory; no Stata setting changes this.",
        "Free memory on the computer (drop data, close programs) and retry.",
    ),
    ReturnCode(
        3901,
        "macro memory in use",
        _MATA_INTERNAL,
        _MATA_INTERNAL_FIX,
    ),
    ReturnCode(
        3930,
        "error in LAPACK routine",
        "The LAPACK linear-algebra routines failed in a way Mata did not expect.",
        _MATA_INTERNAL_FIX,
    ),
    ReturnCode(
        3995,
        "unallocated function",
        _MATA_INTERNAL,
        _MATA_INTERNAL_FIX,
    ),
    ReturnCode(
        3996,
        "built-in unallocated",
        _MATA_INTERNAL,
        _MATA_INTERNAL_FIX,
    ),
    ReturnCode(
        3997,
        "unimplemented opcode",
        _MATA_INTERNAL,
        _MATA_INTERNAL_FIX,
    ),
    ReturnCode(
        3998,
        "stack overflow",
        "Mata functions nested too deeply, typically a recursion that never stops.",
        "Give the recursion a stopping condition, or rewrite it as a loop.",
    ),
    ReturnCode(
        3999,
        "system assertion false",
        "Something unexpected happened inside Mata; Mata stopped what it was doing.",
        "Report it to StataCorp technical support; Stata itself can keep running.",
    ),
    ReturnCode(
        4000,
        "class system limit exceeded",
        "A program using Stata's class system exceeded one of its limits.",
        _CLASS_FIX,
    ),
    ReturnCode(
        4001,
        "class-system reference out of range",
        "A class-system reference points outside the valid range.",
        _CLASS_FIX,
    ),
    ReturnCode(
        4002,
        "class-system reference not defined",
        "A class-system reference names something that is not defined.",
        _CLASS_FIX,
    ),
    ReturnCode(
        4003,
        "invalid class-system reference",
        "A class-system reference is not valid.",
        _CLASS_FIX,
    ),
    ReturnCode(
        4018,
        "class type not found",
        "A class program refers to a class type that cannot be found.",
        _CLASS_FIX,
    ),
    ReturnCode(
        4023,
        "__: class member function not found",
        "A class program calls a member function the class does not have.",
        _CLASS_FIX,
    ),
    ReturnCode(
        5100,
        "a Java runtime exception occurred",
        "A Java program called from Stata raised an exception that it did not handle.",
        None,
    ),
    ReturnCode(
        5101,
        "a general error occurred while executing Java code",
        "A Java program called from Stata returned an error.",
        None,
    ),
    ReturnCode(
        6101,
        "time-series operators not allowed",
        "The command does not accept time-series operators such as L. or D. in its variable list.",
        "Create the lagged or differenced variables with generate first.",
    ),
    ReturnCode(
        6102,
        "factor variables not allowed",
        "The command does not accept factor variables such as i.group in its variable list.",
        "Create indicator variables first, e.g. with tabulate, generate().",
    ),
    ReturnCode(
        6103,
        "interaction operators not allowed",
        "The command does not accept interactions such as a#b in its variable list.",
        "Create the interaction variables with generate first.",
    ),
    ReturnCode(
        6104,
        "factor variables and time-series operators not allowed",
        "The command accepts neither factor variables nor time-series operators in its variable "
        "list.",
        "Create the needed variables with generate first.",
    ),
    ReturnCode(
        6105,
        "o. operator not allowed",
        "The command does not accept the o. (omit) operator.",
        None,
    ),
    ReturnCode(
        7100,
        "unable to initialize or release Python environment",
        "Stata could not load (or unload) the Python library it is set to use.",
        "Check the Python setup that Stata uses (python query).",
    ),
    ReturnCode(
        7101,
        "unable to reinitialize Python environment",
        "The Python version or module paths were changed after Python had already started in "
        "this session.",
        "Restart Stata and change the Python settings before using Python.",
    ),
    ReturnCode(
        7102,
        "a general error occurred while executing Python code",
        "Python code run from Stata raised an exception.",
        "Read the Python traceback in the output; `read_log` shows it in full.",
    ),
    ReturnCode(
        7103,
        "failed to execute a Python script file",
        "A Python script run from Stata (python script) returned an error.",
        "Read the Python traceback in the output; `read_log` shows it in full.",
    ),
)

RETURN_CODES: Mapping[int, ReturnCode] = MappingProxyType({entry.rc: entry for entry in _ENTRIES})
"""Every documented return code we explain, keyed by code; read-only."""


@dataclass(frozen=True, slots=True)
class _Range:
    """A block of return codes that Stata's documentation groups under one kind of problem."""

    first: int
    last: int
    meaning: str
    explanation: str
    fix: str | None


# The blocks of [P] error; Java (5000s) and Python (7100s) follow the codes documented there.
_RANGES: tuple[_Range, ...] = (
    _Range(
        1,
        99,
        "general error",
        "A general condition stopped the command, such as missing data or a failed check.",
        _READ_MESSAGE,
    ),
    _Range(
        100,
        199,
        "syntax or command error",
        "Stata could not accept the command as written: a part is missing, extra or misspelled.",
        "Compare the command with `stata_help <command>`; `read_log` shows the failing line.",
    ),
    _Range(
        300,
        399,
        "previously stored result not found",
        "The command needs earlier results (estimates, a test, an ml model) that do not exist.",
        "Run the command that creates those results first, in the same run.",
    ),
    _Range(
        400,
        499,
        "statistical problem",
        "The data or the model do not allow the requested calculation.",
        _READ_MESSAGE,
    ),
    _Range(
        500,
        599,
        "matrix error",
        "A matrix operation failed: the sizes do not fit, or the matrix is unsuitable.",
        "Check the matrices with matrix list.",
    ),
    _Range(
        600,
        699,
        "file or network I/O error",
        "Reading or writing a file, or a web request, failed.",
        "Check the path, the permissions and the network; `read_log` shows the full log.",
    ),
    _Range(
        700,
        799,
        "operating system error",
        "The operating system refused something Stata asked for.",
        _READ_MESSAGE,
    ),
    _Range(
        900,
        999,
        "insufficient memory",
        "Stata ran out of room: memory, or a size limit such as maxvar.",
        "Free memory (drop unneeded data) or raise the limit (set maxvar, set max_memory).",
    ),
    _Range(
        1000,
        1999,
        "system limit exceeded",
        "The request exceeds one of Stata's fixed limits.",
        "`help limits` lists Stata's limits; split the work into smaller pieces.",
    ),
    _Range(
        2000,
        2999,
        "non-error condition",
        "There was nothing, or too little, to compute on; Stata classes these as non-errors.",
        "Check the sample: if/in conditions and missing values; `describe_data` shows the data.",
    ),
    _Range(
        3000,
        3999,
        "Mata error",
        "Mata (Stata's matrix language) stopped with an error; the traceback names the function.",
        "Read the traceback; `read_log` shows it in full.",
    ),
    _Range(
        4000,
        4999,
        "class system error",
        "A program built on Stata's class system failed.",
        _CLASS_FIX,
    ),
    _Range(
        5000,
        5999,
        "Java error",
        "Java code called from Stata failed.",
        _READ_MESSAGE,
    ),
    _Range(
        7100,
        7199,
        "Python error",
        "Python code called from Stata failed.",
        "Read the Python traceback; `read_log` shows it in full.",
    ),
    _Range(
        9000,
        9999,
        "unexpected system failure",
        "Stata reports an internal failure that should never happen.",
        "Save the data and restart Stata; report it to StataCorp if it happens again.",
    ),
)


def explain(rc: int) -> ReturnCode:
    """Known code → its entry; anything else → a generic entry for its range. Never raises."""
    known = RETURN_CODES.get(rc)
    if known is not None:
        return known
    if rc == 0:
        return ReturnCode(0, "no error", "Return code 0 means the command finished successfully.")
    for block in _RANGES:
        if block.first <= rc <= block.last:
            return ReturnCode(rc, block.meaning, block.explanation, block.fix)
    return ReturnCode(
        rc,
        "unrecognized return code",
        "The number is outside Stata's documented return-code ranges.",
        _READ_MESSAGE,
    )


def describe(rc: int) -> str:
    """One line for a result header, e.g. 'r(111): __ not found — <explanation> Fix: <fix>'."""
    code = explain(rc)
    line = f"r({code.rc}): {code.meaning} — {code.explanation}"
    return f"{line} Fix: {code.fix}" if code.fix else line
