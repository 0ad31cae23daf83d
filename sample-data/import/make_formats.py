#!/usr/bin/env python3
"""Writes the non-CSV import samples from contacts.csv, and the duplicates and defects CSVs.

contacts.xlsx, contacts.xls, contacts.ods and contacts.parquet hold exactly the header and rows
of contacts.csv, with typed cells where a spreadsheet would have them:

- Deal Value is a number: "$500" -> 500, "119.500,00 €" -> 119500, "$57,500" -> 57500 (a cell that
  is not one of those shapes would stay text).
- Last Contacted is a real date cell (Date32 in Parquet). The CSV's dotted dates are day-first,
  as in the countries that write them: "09.01.2024" is 9 January 2024.
- Every other column is text; empty CSV cells are empty cells (null in Parquet).

The workbooks have a second, small sheet "Summary" (contacts per status), for sheet selection.

contacts-duplicates.csv and contacts-defects.csv are written from the tables at the end of this
file; README.md says what each row is for.

Rerun from the repository root after changing contacts.csv or this script:

    pip install openpyxl xlwt odfpy pyarrow
    python3 sample-data/import/make_formats.py

The output is deterministic for given versions of those packages (timestamps are fixed).
"""

import collections
import csv
import datetime
import pathlib
import re
import zipfile

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import xlwt
from odf import teletype
from odf.opendocument import OpenDocumentSpreadsheet
from odf.dc import Date
from odf.meta import CreationDate
from odf.table import Table, TableCell, TableRow
from odf.text import P

HERE = pathlib.Path(__file__).resolve().parent
SHEET = "Contacts"
SUMMARY = "Summary"
FIXED_TIME = datetime.datetime(2024, 1, 1, 0, 0, 0)
DEAL_VALUE = "Deal Value"
LAST_CONTACTED = "Last Contacted"


def deal_number(text):
    """The number a Deal Value cell means, or None when it is empty or not a known shape."""
    t = text.strip().replace("$", "").replace("€", "").strip()
    if re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", t):  # 119.500,00
        value = float(t.replace(".", "").replace(",", "."))
    elif re.fullmatch(r"\d{1,3}(,\d{3})+", t):  # 57,500
        value = float(t.replace(",", ""))
    elif re.fullmatch(r"\d+(\.\d+)?", t):  # 88500
        value = float(t)
    else:
        return None
    return int(value) if value.is_integer() else value


def contact_date(text):
    """The date a Last Contacted cell means, or None when it is empty or not a known shape."""
    t = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        return datetime.date.fromisoformat(t)
    m = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", t)
    if m:
        return datetime.date(int(m[3]), int(m[2]), int(m[1]))
    return None


def typed(column, text):
    """The cell to write: a number, a date, None for empty, or the text itself."""
    if text == "":
        return None
    if column == DEAL_VALUE:
        number = deal_number(text)
        return text if number is None else number
    if column == LAST_CONTACTED:
        date = contact_date(text)
        return text if date is None else date
    return text


def read_contacts():
    with open(HERE / "contacts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in data), "contacts.csv must be rectangular"
    typed_rows = [[typed(c, v) for c, v in zip(header, row)] for row in data]
    return header, typed_rows


def summary(header, rows):
    status = header.index("Status")
    counts = collections.Counter(r[status] for r in rows)
    return [["Status", "Contacts"]] + [[s, n] for s, n in sorted(counts.items())]


def fix_zip_times(path):
    """Rewrites a zip (XLSX and ODS are zips) with fixed entry times, in the same order and
    compression (ODS needs its uncompressed "mimetype" entry first). openpyxl stamps the save
    time into docProps/core.xml whatever the workbook says, so that is fixed here too."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*",
                    rb"\g<1>" + FIXED_TIME.isoformat().encode() + b"Z",
                    data,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            zout.writestr(fixed, data)


def write_xlsx(header, rows, summary_rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, datetime.date):
                cell.number_format = "yyyy-mm-dd"
    ws2 = wb.create_sheet(SUMMARY)
    for row in summary_rows:
        ws2.append(row)
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "recordport sample-data"
    wb.save(HERE / "contacts.xlsx")
    fix_zip_times(HERE / "contacts.xlsx")


def write_xls(header, rows, summary_rows):
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    ws = wb.add_sheet(SHEET)
    for c, name in enumerate(header):
        ws.write(0, c, name)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime.date):
                ws.write(r, c, value, date_style)
            else:
                ws.write(r, c, value)
    ws2 = wb.add_sheet(SUMMARY)
    for r, row in enumerate(summary_rows):
        for c, value in enumerate(row):
            ws2.write(r, c, value)
    wb.save(str(HERE / "contacts.xls"))


def ods_cell(value):
    if value is None:
        return TableCell()
    if isinstance(value, datetime.date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat())
        text = value.isoformat()
    elif isinstance(value, (int, float)):
        cell = TableCell(valuetype="float", value=value)
        text = str(value)
    else:
        cell = TableCell(valuetype="string")
        text = value
    # One paragraph per line, as LibreOffice writes cells with line breaks.
    for line in text.split("\n"):
        p = P()
        teletype.addTextToElement(p, line)
        cell.addElement(p)
    return cell


def write_ods(header, rows, summary_rows):
    doc = OpenDocumentSpreadsheet()
    for name, table_rows in ((SHEET, [header] + rows), (SUMMARY, summary_rows)):
        table = Table(name=name)
        for row in table_rows:
            tr = TableRow()
            for value in row:
                tr.addElement(ods_cell(value))
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    # odfpy stamps the current time into meta.xml; a fixed one keeps the file reproducible.
    for element in list(doc.meta.childNodes):
        if element.qname[1] in ("creation-date", "date", "generator"):
            doc.meta.removeChild(element)
    doc.meta.addElement(CreationDate(text=FIXED_TIME.isoformat()))
    doc.meta.addElement(Date(text=FIXED_TIME.isoformat()))
    doc.save(str(HERE / "contacts.ods"))
    fix_zip_times(HERE / "contacts.ods")


def write_parquet(header, rows):
    columns = {}
    for c, name in enumerate(header):
        values = [row[c] for row in rows]
        if name == DEAL_VALUE:
            assert all(v is None or isinstance(v, (int, float)) for v in values)
            columns[name] = pa.array(
                [None if v is None else float(v) for v in values], pa.float64()
            )
        elif name == LAST_CONTACTED:
            assert all(v is None or isinstance(v, datetime.date) for v in values)
            columns[name] = pa.array(values, pa.date32())
        else:
            columns[name] = pa.array(values, pa.string())
    table = pa.table(columns)
    pq.write_table(table, HERE / "contacts.parquet", compression="snappy")


def write_csv(name, header, rows):
    with open(HERE / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# Rows of contacts-duplicates.csv (data rows 2..21). README.md lists which repeat which.
DUPLICATES = [
    ["Mia", "Keller", "mia.keller@northwind.com", "+49 30 5550101", "Northwind GmbH", "Buyer", "12000", "lead", "2024-03-04", "Berlin", "Germany", ""],
    ["Oscar", "Lindgren", "oscar.lindgren@contoso.se", "+46 8 555 010 22", "Contoso AB", "CTO", "$48,000", "active", "2024-03-05", "Stockholm", "Sweden", ""],
    ["Ada", "Lovelace", "ada.lovelace@acme.com", "+1 (212) 555-0100", "Acme Corporation", "VP of Engineering", "$750", "active", "2024-03-06", "New York", "United States", "Upgraded from lead"],
    ["Nina", "Petrova", "nina.petrova@fabrikam.com", "+1 (415) 555-0134", "Fabrikam Inc", "Analyst", "9500", "lead", "2024-03-07", "San Francisco", "United States", ""],
    ["Mia", "Keller", "mia.keller@northwind.com", "+49 30 5550199", "Northwind GmbH", "Head of Buying", "15000", "active", "2024-03-08", "Berlin", "Germany", "Promoted; new phone"],
    ["Oscar", "Lindgren", "Oscar.Lindgren@Contoso.SE", "+46 8 555 010 22", "Contoso AB", "CTO", "$52,000", "customer", "2024-03-09", "Stockholm", "Sweden", ""],
    ["Lars", "Eriksen", "lars.eriksen@vandelay.dk", "+45 33 12 34 56", "Vandelay Industries", "Importer", "30000", "lead", "2024-03-10", "Aarhus", "Denmark", ""],
    ["Grace", "Hopper", "GRACE.HOPPER@GLOBEX.DE", "+49 89 1234501", "Globex GmbH", "CTO", "120.000,00 €", "customer", "2024-03-11", "München", "Germany", ""],
    ["Nina", "Petrova", "  nina.petrova@fabrikam.com  ", "+1 (415) 555-0134", "Fabrikam Inc", "Senior Analyst", "11000", "active", "2024-03-12", "San Francisco", "United States", ""],
    ["Chen", "Wei", "chen.wei@initrode.cn", "+86 10 5555 0123", "Initrode", "Engineer", "22000", "lead", "2024-03-13", "Beijing", "China", ""],
    ["Alan", "Turing", "alan.turing@initech.fr", "+33 1 42 68 12 22", "Initech", "Researcher", "90000", "customer", "2024-03-14", "Paris", "France", "Renewed"],
    ["Lars", "Eriksen", "Lars.ERIKSEN@vandelay.dk", "+45 33 12 34 56", "Vandelay Industries", "Importer", "31000", "active", "2024-03-15", "Aarhus", "Denmark", ""],
    ["Fatou", "Diallo", "fatou.diallo@sahel.sn", "+221 33 889 12 34", "Sahel Logistics", "COO", "41000", "lead", "2024-03-16", "Dakar", "Senegal", ""],
    ["Mia", "Keller", " Mia.Keller@Northwind.com ", "+49 30 5550199", "Northwind GmbH", "Head of Buying", "16000", "customer", "2024-03-17", "Berlin", "Germany", "Third time in this file"],
    ["Rosa", "Lima", "rosa.lima@brasilia.com.br", "+55 61 5555 0147", "Brasília Tech", "Founder", "27000", "lead", "2024-03-18", "Brasília", "Brazil", ""],
    ["Katherine", "Johnson", " katherine.johnson@umbrella.io ", "(312) 555-0193", "Umbrella Ltd", "Analyst", "$60,000", "active", "2024-03-19", "Madrid", "Spain", "Back from churn"],
    ["Tariq", "Aziz", "tariq.aziz@oasis.ae", "+971 4 555 0199", "Oasis Trading", "Partner", "64000", "lead", "2024-03-20", "Dubai", "United Arab Emirates", ""],
    ["Chen", "Wei", "chen.wei@initrode.cn", "+86 10 5555 0123", "Initrode", "Lead Engineer", "23000", "active", "2024-03-21", "Beijing", "China", ""],
    ["Eva", "Novak", "eva.novak@praha.cz", "+420 2 5555 0123", "Praha Software", "Designer", "8000", "lead", "2024-03-22", "Praha", "Czechia", ""],
    ["Jon", "Snow", "jon.snow@wall.no", "+47 22 55 50 12", "Nightwatch AS", "Lord Commander", "1000", "lead", "2024-03-23", "Oslo", "Norway", ""],
]

# Rows of contacts-defects.csv (data rows 2..11): exactly one defect per row, two valid rows.
DEFECTS = [
    ["Valid", "Person", "valid.person@example.com", "+1 (212) 555-0150", "Acme Corporation", "Buyer", "$1,200", "lead", "2024-05-01", "New York", "United States", "a valid row"],
    ["Bad", "Email", "bad.email(at)example.com", "+1 (212) 555-0151", "Acme Corporation", "Buyer", "1200", "lead", "2024-05-02", "New York", "United States", "invalid email"],
    ["Bad", "Phone", "bad.phone@example.com", "12", "Acme Corporation", "Buyer", "1200", "lead", "2024-05-03", "New York", "United States", "invalid phone"],
    ["Bad", "Date", "bad.date@example.com", "+1 (212) 555-0153", "Acme Corporation", "Buyer", "1200", "lead", "2024-13-45", "New York", "United States", "invalid date"],
    ["Bad", "Deal", "bad.deal@example.com", "+1 (212) 555-0154", "Acme Corporation", "Buyer", "about 10k", "lead", "2024-05-05", "New York", "United States", "deal value is not a number"],
    ["Bad", "Status", "bad.status@example.com", "+1 (212) 555-0155", "Acme Corporation", "Buyer", "1200", "prospect", "2024-05-06", "New York", "United States", "status is not an option"],
    ["Too", "Many", "too.many@example.com", "+1 (212) 555-0156", "Acme Corporation", "Buyer", "1200", "lead", "2024-05-07", "New York", "United States", "one cell too many", "extra cell"],
    ["Too", "Few", "too.few@example.com", "+1 (212) 555-0157", "Acme Corporation", "Buyer", "1200", "lead", "2024-05-08", "New York", "United States"],
    ["Bartholomew" * 92, "Long", "long.name@example.com", "+1 (212) 555-0158", "Acme Corporation", "Buyer", "1200", "lead", "2024-05-09", "New York", "United States", "first name over 1000 characters"],
    ["Plain", "Valid", "plain.valid@example.com", "+44 20 7946 0958", "Initech", "Engineer", "", "customer", "", "London", "United Kingdom", ""],
]


def main():
    header, rows = read_contacts()
    summary_rows = summary(header, rows)
    write_xlsx(header, rows, summary_rows)
    write_xls(header, rows, summary_rows)
    write_ods(header, rows, summary_rows)
    write_parquet(header, rows)
    assert all(len(r) == len(header) for r in DUPLICATES)
    write_csv("contacts-duplicates.csv", header, DUPLICATES)
    write_csv("contacts-defects.csv", header, DEFECTS)


if __name__ == "__main__":
    main()
