-- The five German branches of the original system. ON CONFLICT keeps an operator's later
-- edits of these rows when the migration runs on a database that already has them.
INSERT INTO locations.locations
    (code, name, street, postal_code, city, latitude, longitude, phone, email, opening_hours)
VALUES
    ('BER-HBF', 'Berlin Hauptbahnhof', 'Europaplatz 1', '10557', 'Berlin', 52.5251, 13.3694,
     '+49 30 1234560', 'berlin-hbf@orangecarrental.com',
     '[{"day":"monday","opens":"07:00","closes":"21:00"},{"day":"tuesday","opens":"07:00","closes":"21:00"},{"day":"wednesday","opens":"07:00","closes":"21:00"},{"day":"thursday","opens":"07:00","closes":"21:00"},{"day":"friday","opens":"07:00","closes":"21:00"},{"day":"saturday","opens":"08:00","closes":"20:00"},{"day":"sunday","opens":"09:00","closes":"18:00"}]'),
    ('MUC-FLG', 'München Flughafen', 'Nordallee 25', '85356', 'München', 48.3538, 11.7861,
     '+49 89 1234560', 'muenchen-flughafen@orangecarrental.com',
     '[{"day":"monday","opens":"06:00","closes":"23:00"},{"day":"tuesday","opens":"06:00","closes":"23:00"},{"day":"wednesday","opens":"06:00","closes":"23:00"},{"day":"thursday","opens":"06:00","closes":"23:00"},{"day":"friday","opens":"06:00","closes":"23:00"},{"day":"saturday","opens":"06:00","closes":"23:00"},{"day":"sunday","opens":"06:00","closes":"23:00"}]'),
    ('FRA-FLG', 'Frankfurt Flughafen', 'Hugo-Eckener-Ring 1', '60549', 'Frankfurt am Main', 50.0379, 8.5622,
     '+49 69 1234560', 'frankfurt-flughafen@orangecarrental.com',
     '[{"day":"monday","opens":"06:00","closes":"23:00"},{"day":"tuesday","opens":"06:00","closes":"23:00"},{"day":"wednesday","opens":"06:00","closes":"23:00"},{"day":"thursday","opens":"06:00","closes":"23:00"},{"day":"friday","opens":"06:00","closes":"23:00"},{"day":"saturday","opens":"06:00","closes":"23:00"},{"day":"sunday","opens":"06:00","closes":"23:00"}]'),
    ('HAM-HBF', 'Hamburg Hauptbahnhof', 'Hachmannplatz 16', '20099', 'Hamburg', 53.5530, 10.0069,
     '+49 40 1234560', 'hamburg-hbf@orangecarrental.com',
     '[{"day":"monday","opens":"07:00","closes":"21:00"},{"day":"tuesday","opens":"07:00","closes":"21:00"},{"day":"wednesday","opens":"07:00","closes":"21:00"},{"day":"thursday","opens":"07:00","closes":"21:00"},{"day":"friday","opens":"07:00","closes":"21:00"},{"day":"saturday","opens":"08:00","closes":"20:00"},{"day":"sunday","opens":"09:00","closes":"18:00"}]'),
    ('CGN-HBF', 'Köln Hauptbahnhof', 'Trankgasse 11', '50667', 'Köln', 50.9430, 6.9589,
     '+49 221 1234560', 'koeln-hbf@orangecarrental.com',
     '[{"day":"monday","opens":"07:00","closes":"21:00"},{"day":"tuesday","opens":"07:00","closes":"21:00"},{"day":"wednesday","opens":"07:00","closes":"21:00"},{"day":"thursday","opens":"07:00","closes":"21:00"},{"day":"friday","opens":"07:00","closes":"21:00"},{"day":"saturday","opens":"08:00","closes":"20:00"},{"day":"sunday","opens":"09:00","closes":"18:00"}]')
ON CONFLICT (code) DO NOTHING;
