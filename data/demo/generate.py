#!/usr/bin/env python3
"""Build the toolrouter demo dataset (train.jsonl, test.jsonl) from hand-written examples.

Every sentence below was written by hand, one at a time; nothing is produced by filling
templates.  Each example is (text, args) where each args value is either

    value               -> the span is the first place where str(value) occurs in the text
    (value, "surface")  -> the value is normalised (enum, ticker, number word, ISO code ...)
                           and the span covers `surface` as the user wrote it
    (value, None)       -> no words in the text express the value; no span

Out-of-scope requests are plain strings (tool null, no args, no spans).

Offsets are computed here, never by hand.  Run:  python3 generate.py
The output is deterministic; the script ends with a consistency check and exits non-zero
if anything is wrong.
"""

import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

MIN_TRAIN_PER_TOOL = 45
MIN_TEST_PER_TOOL = 15
MIN_TRAIN_OOS = 60
MIN_TEST_OOS = 25

# ---------------------------------------------------------------------------
# TRAIN
# ---------------------------------------------------------------------------

TRAIN = {}
TEST = {}

TRAIN["get_weather"] = [
    ("what's the weather in Paris", {"city": "Paris"}),
    ("Weather Tokyo tomorrow", {"city": "Tokyo", "date": "tomorrow"}),
    ("I'm freezing, is it going to warm up in Oslo tomorrow?", {"city": "Oslo", "date": "tomorrow"}),
    ("Do I need an umbrella in Seattle today?", {"city": "Seattle", "date": "today"}),
    ("how hot will it get in Phoenix on Saturday, in fahrenheit please", {"city": "Phoenix", "date": "Saturday", "units": "fahrenheit"}),
    ("forecast for berlin this weekend", {"city": "Berlin", "date": "this weekend"}),
    ("Could you tell me what the temperature is in Madrid right now in celsius?", {"city": "Madrid", "units": "celsius"}),
    ("is it raining in london", {"city": "London"}),
    ("will it snow in Denver on christmas day", {"city": "Denver", "date": "Christmas Day"}),
    ("whats the wether like in chicago", {"city": "Chicago"}),
    ("Hey, quick one: how cold is it in Montreal tonight?", {"city": "Montreal", "date": "tonight"}),
    ("What will the weather be like in Sydney over the next few days?", {"city": "Sydney", "date": "next few days"}),
    ("temperature in Dubai in F", {"city": "Dubai", "units": ("fahrenheit", "F")}),
    ("Should I bring a jacket to Amsterdam on Thursday?", {"city": "Amsterdam", "date": "Thursday"}),
    ("I'm flying to Reykjavik on March 3rd, what weather should I expect there", {"city": "Reykjavik", "date": "March 3rd"}),
    ("Is it sunny in Barcelona?", {"city": "Barcelona"}),
    ("humidity in Singapore today", {"city": "Singapore", "date": "today"}),
    ("weather forecast for Zürich next week", {"city": "Zürich", "date": "next week"}),
    ("tell me the weather in new york city tomorrow morning, celsius", {"city": "New York City", "date": "tomorrow morning", "units": "celsius"}),
    ("will it be windy in Wellington this afternoon", {"city": "Wellington", "date": "this afternoon"}),
    ("What's it like outside in Boston", {"city": "Boston"}),
    ("Any chance of thunderstorms in Miami on Sunday?", {"city": "Miami", "date": "Sunday"}),
    ("how many degrees is it in Rome", {"city": "Rome"}),
    ("My daughter has a picnic in Austin on saturday, is the weather going to hold up?", {"city": "Austin", "date": "Saturday"}),
    ("LA weather", {"city": ("Los Angeles", "LA")}),
    ("Forecast São Paulo", {"city": "São Paulo"}),
    ("can you check if it'll freeze overnight in Minneapolis", {"city": "Minneapolis", "date": "overnight"}),
    ("What's the high for Dallas tomorrow in fahrenheit?", {"city": "Dallas", "date": "tomorrow", "units": "fahrenheit"}),
    ("weather in lisbon on the 14th", {"city": "Lisbon", "date": "the 14th"}),
    ("Is it going to be nice in Vancouver for the weekend?", {"city": "Vancouver", "date": "the weekend"}),
    ("Please tell me today's temperature in Cairo in degrees Celsius.", {"city": "Cairo", "date": "today", "units": "celsius"}),
    ("How's the weather looking in Dublin", {"city": "Dublin"}),
    ("i need the forecast for Nairobi next monday", {"city": "Nairobi", "date": "next Monday"}),
    ("Helsinki weather tonight, fahrenheit", {"city": "Helsinki", "date": "tonight", "units": "fahrenheit"}),
    ("Will there be fog in San Francisco tomorrow morning?", {"city": "San Francisco", "date": "tomorrow morning"}),
    ("rain in mumbai?", {"city": "Mumbai"}),
    ("What's the UV index in Brisbane today", {"city": "Brisbane", "date": "today"}),
    ("gonna need an umbrella in glasgow on friday or nah", {"city": "Glasgow", "date": "Friday"}),
    ("Check weather for Prague, June 10", {"city": "Prague", "date": "June 10"}),
    ("whats temp in toronto rn", {"city": "Toronto"}),
    ("Hi! Could you let me know the weather in Kyoto for the day after tomorrow?", {"city": "Kyoto", "date": "the day after tomorrow"}),
    ("Is it hot in Bangkok at the moment", {"city": "Bangkok"}),
    ("Weather update for Edinburgh please", {"city": "Edinburgh"}),
    ("Will I be able to go running in Portland tomorrow evening without getting soaked?", {"city": "Portland", "date": "tomorrow evening"}),
    ("temprature in Vienna celcius", {"city": "Vienna", "units": ("celsius", "celcius")}),
    ("What is the weather going to be in Mexico City on Tuesday?", {"city": "Mexico City", "date": "Tuesday"}),
    ("how warm is it in Athens", {"city": "Athens"}),
    ("snow forecast for Calgary this week", {"city": "Calgary", "date": "this week"}),
]

TRAIN["send_email"] = [
    ("send an email to Sarah saying I'll be late", {"to": "Sarah", "body": "I'll be late"}),
    ("Email john@example.com about the quarterly report", {"to": "john@example.com", "subject": "quarterly report"}),
    ("Can you shoot a quick email to my boss, subject Sick day, telling her I'm not feeling well today", {"to": "my boss", "subject": "Sick day", "body": "I'm not feeling well today"}),
    ("email mom", {"to": "Mom"}),
    ("Write to david.chen@acme.io with the subject 'Invoice 4471' and say the payment went out this morning", {"to": "david.chen@acme.io", "subject": "Invoice 4471", "body": "the payment went out this morning"}),
    ("Please send Priya an email: the meeting moved to 3pm", {"to": "Priya", "body": "the meeting moved to 3pm"}),
    ("Let Marcus know by email that the contract is signed", {"to": "Marcus", "body": "the contract is signed"}),
    ("drop an email to the landlord about the broken heater", {"to": "the landlord", "subject": "broken heater"}),
    ("send email to hr@company.com subject: vacation request body: I'd like to take Aug 5-9 off", {"to": "hr@company.com", "subject": "vacation request", "body": "I'd like to take Aug 5-9 off"}),
    ("Could you email Tom and thank him for dinner last night?", {"to": "Tom", "body": "thank him for dinner last night"}),
    ("i need to email professor Alvarez asking for an extension on my essay", {"to": "professor Alvarez", "subject": "extension on my essay"}),
    ("Email the team that the build is green", {"to": "the team", "body": "the build is green"}),
    ("send a mail to lucy.w@gmail.com", {"to": "lucy.w@gmail.com"}),
    ("Compose an email to Mr. Okafor with subject Follow-up", {"to": "Mr. Okafor", "subject": "Follow-up"}),
    ("tell Jenna over email that I found her keys", {"to": "Jenna", "body": "I found her keys"}),
    ("Could you please send a message by email to accounting@northwind.com regarding the missing receipt?", {"to": "accounting@northwind.com", "subject": "the missing receipt"}),
    ("email ben: running 10 min late", {"to": "Ben", "body": "running 10 min late"}),
    ("Shoot Kevin an email: are you free for lunch tomorrow?", {"to": "Kevin", "body": "are you free for lunch tomorrow?"}),
    ("I want to send an email to my sister about the birthday party", {"to": "my sister", "subject": "the birthday party"}),
    ("Send Dr. Patel an email to confirm my appointment", {"to": "Dr. Patel", "subject": "confirm my appointment"}),
    ("Email the client saying the updated proposal is attached", {"to": "the client", "body": "the updated proposal is attached"}),
    ("new email to support@stripe.com, subject 'Refund', body 'Please refund order 5512'", {"to": "support@stripe.com", "subject": "Refund", "body": "Please refund order 5512"}),
    ("Send an e-mail to Grandma wishing her a happy birthday", {"to": "Grandma", "subject": "Happy birthday"}),
    ("Hey can u email alex that im sick", {"to": "Alex", "body": "im sick"}),
    ("Notify Rachel via email that the shipment arrived", {"to": "Rachel", "body": "the shipment arrived"}),
    ("Please email the hiring manager to say I accept the offer", {"to": "the hiring manager", "body": "I accept the offer"}),
    ("Email to sam.k@outlook.com: 'see you at the airport'", {"to": "sam.k@outlook.com", "body": "see you at the airport"}),
    ("write an email to the neighbours about the noise on Friday night", {"to": "the neighbours", "subject": "the noise on Friday night"}),
    ("send my dentist an email to reschedule", {"to": "my dentist", "subject": "reschedule"}),
    ("Could you send an email to Laura with the subject line Budget draft?", {"to": "Laura", "subject": "Budget draft"}),
    ("email Carlos that the address is 42 Elm Street", {"to": "Carlos", "body": "the address is 42 Elm Street"}),
    ("I'd like to email my manager. Subject: Overtime. Message: I worked 6 extra hours this week.", {"to": "my manager", "subject": "Overtime", "body": "I worked 6 extra hours this week."}),
    ("send a quick note by email to Fatima saying congrats on the promotion", {"to": "Fatima", "body": "congrats on the promotion"}),
    ("Mail info@greenleaf.org and ask about volunteering", {"to": "info@greenleaf.org", "subject": "volunteering"}),
    ("can you email the teacher that Max will be absent tomorrow", {"to": "the teacher", "body": "Max will be absent tomorrow"}),
    ("Send an email to Hiroshi", {"to": "Hiroshi"}),
    ("email jane re: budget meeting", {"to": "Jane", "subject": "budget meeting"}),
    ("Please write an email to our supplier saying we need 200 more units by March", {"to": "our supplier", "body": "we need 200 more units by March"}),
    ("Fire off an email to Derek - the server is down again", {"to": "Derek", "body": "the server is down again"}),
    ("email my wife that i'm picking up the kids", {"to": "my wife", "body": "i'm picking up the kids"}),
    ("Send an email to legal@firm.com titled NDA review", {"to": "legal@firm.com", "subject": "NDA review"}),
    ("Can you let Nadia know by e-mail that her package is at the front desk?", {"to": "Nadia", "body": "her package is at the front desk"}),
    ("I need to send an email to the property manager about a leaking faucet", {"to": "the property manager", "subject": "a leaking faucet"}),
    ("Email Olivia with subject Weekend plans and say want to go hiking?", {"to": "Olivia", "subject": "Weekend plans", "body": "want to go hiking?"}),
    ("send email to coach about practice being cancelled", {"to": "coach", "subject": "practice being cancelled"}),
    ("Please email Mr. Bianchi to thank him for the referral", {"to": "Mr. Bianchi", "body": "thank him for the referral"}),
    ("compose email to recruiting@techcorp.com", {"to": "recruiting@techcorp.com"}),
]

TRAIN["create_calendar_event"] = [
    ("Schedule a dentist appointment on Tuesday at 3pm", {"title": "dentist appointment", "date": "Tuesday", "time": "3pm"}),
    ("add team standup to my calendar tomorrow at 9:30 for 15 minutes", {"title": "team standup", "date": "tomorrow", "time": "9:30", "duration_minutes": 15}),
    ("Put lunch with Maria on my calendar for Friday at noon", {"title": "lunch with Maria", "date": "Friday", "time": "noon"}),
    ("create an event called Project kickoff on May 12", {"title": "Project kickoff", "date": "May 12"}),
    ("Block off two hours on Thursday afternoon for deep work", {"title": "deep work", "date": "Thursday", "time": "afternoon", "duration_minutes": (120, "two hours")}),
    ("new calendar event: yoga class, Saturday 8am, one hour", {"title": "yoga class", "date": "Saturday", "time": "8am", "duration_minutes": (60, "one hour")}),
    ("Can you add my mom's birthday dinner on the 23rd at 7 pm?", {"title": "mom's birthday dinner", "date": "the 23rd", "time": "7 pm"}),
    ("schedule a call with the Berlin office next Wednesday at 10 for 45 minutes", {"title": "call with the Berlin office", "date": "next Wednesday", "time": "10", "duration_minutes": 45}),
    ("I have a doctor's appointment on June 3 at 11:15, put it in my calendar", {"title": "doctor's appointment", "date": "June 3", "time": "11:15"}),
    ("Add 'Book club' to my calendar on the first Monday of next month", {"title": "Book club", "date": "the first Monday of next month"}),
    ("calendar: haircut sat 2pm", {"title": "haircut", "date": ("Saturday", "sat"), "time": "2pm"}),
    ("Please set up a meeting titled Budget Review for tomorrow at 4pm lasting 90 minutes", {"title": "Budget Review", "date": "tomorrow", "time": "4pm", "duration_minutes": 90}),
    ("Pencil in coffee with Jake on Monday morning", {"title": "coffee with Jake", "date": "Monday", "time": "morning"}),
    ("create event parent teacher conference oct 5 6:30pm", {"title": "parent teacher conference", "date": "Oct 5", "time": "6:30pm"}),
    ("Could you put a 30 minute interview with Ms. Lee on my calendar for Thursday at 1?", {"title": "interview with Ms. Lee", "date": "Thursday", "time": "1", "duration_minutes": 30}),
    ("add the company picnic to the calendar, July 4th", {"title": "company picnic", "date": "July 4th"}),
    ("I need a calendar entry for the car service on Friday at 8:00 AM", {"title": "car service", "date": "Friday", "time": "8:00 AM"}),
    ("Schedule 'Quarterly planning' next Tuesday at 2pm for three hours", {"title": "Quarterly planning", "date": "next Tuesday", "time": "2pm", "duration_minutes": (180, "three hours")}),
    ("Make an event for Emma's recital on the 18th at 6", {"title": "Emma's recital", "date": "the 18th", "time": "6"}),
    ("put gym session on my calendar for tomorrow at 6am, 1 hour", {"title": "gym session", "date": "tomorrow", "time": "6am", "duration_minutes": (60, "1 hour")}),
    ("Add a meeting with the architects on Wednesday", {"title": "meeting with the architects", "date": "Wednesday"}),
    ("Create calendar event: Flight to Denver, March 14, 7:45am", {"title": "Flight to Denver", "date": "March 14", "time": "7:45am"}),
    ("can u schedule a 1:1 with Priyanka tmrw at 11", {"title": "1:1 with Priyanka", "date": ("tomorrow", "tmrw"), "time": "11"}),
    ("Block my calendar on December 20 for the holiday party", {"title": "holiday party", "date": "December 20"}),
    ("Set up a 20-minute sync with design on Monday at 3:30", {"title": "sync with design", "date": "Monday", "time": "3:30", "duration_minutes": 20}),
    ("add Vet appointment for Biscuit on Sat the 9th at 10am", {"title": "Vet appointment for Biscuit", "date": "Sat the 9th", "time": "10am"}),
    ("Schedule a webinar called Intro to SQL on August 2 at 1pm for 60 minutes", {"title": "Intro to SQL", "date": "August 2", "time": "1pm", "duration_minutes": 60}),
    ("I'd like to add date night to my calendar this Saturday at 7:30", {"title": "date night", "date": "this Saturday", "time": "7:30"}),
    ("Put 'Renew passport' in the calendar for next Monday", {"title": "Renew passport", "date": "next Monday"}),
    ("calendar event tomorrow 5pm: drinks with old colleagues", {"title": "drinks with old colleagues", "date": "tomorrow", "time": "5pm"}),
    ("Could you book a slot in my calendar on the 30th at 9 for the board meeting? It'll take about two hours.", {"title": "board meeting", "date": "the 30th", "time": "9", "duration_minutes": (120, "two hours")}),
    ("new event - Sprint retro - Friday 4pm - 45 min", {"title": "Sprint retro", "date": "Friday", "time": "4pm", "duration_minutes": 45}),
    ("Schedule piano lessons for Liam on Wednesday at 5", {"title": "piano lessons for Liam", "date": "Wednesday", "time": "5"}),
    ("mark my calendar for the farmers market on Sunday morning", {"title": "farmers market", "date": "Sunday", "time": "morning"}),
    ("Add an event: Conference call with Tokyo, Jan 15, 8pm", {"title": "Conference call with Tokyo", "date": "Jan 15", "time": "8pm"}),
    ("Please schedule a performance review with Dana on the 2nd of November at 2:30pm", {"title": "performance review with Dana", "date": "the 2nd of November", "time": "2:30pm"}),
    ("put moving day on my calendar, september 1st", {"title": "moving day", "date": "September 1st"}),
    ("Create a 10 minute event tomorrow at 8:50 called check in with Sam", {"title": "check in with Sam", "date": "tomorrow", "time": "8:50", "duration_minutes": 10}),
    ("Add my cousin's wedding on June 21 to my calendar", {"title": "cousin's wedding", "date": "June 21"}),
    ("schedule study group thursday 7pm for 2 hrs", {"title": "study group", "date": "Thursday", "time": "7pm", "duration_minutes": (120, "2 hrs")}),
    ("Hey, I've got a job interview at Google on Monday the 8th at 10:30, can you add it?", {"title": "job interview at Google", "date": "Monday the 8th", "time": "10:30"}),
    ("add dinner at Nonna's to the calendar for Sunday at 6pm", {"title": "dinner at Nonna's", "date": "Sunday", "time": "6pm"}),
    ("Create an all-day event for the offsite on April 17", {"title": "offsite", "date": "April 17"}),
    ("schedule a quick 15 min chat w/ Raj on Tues at 4", {"title": "chat w/ Raj", "date": ("Tuesday", "Tues"), "time": "4", "duration_minutes": 15}),
    ("Please add 'Pay property tax' to my calendar for January 31", {"title": "Pay property tax", "date": "January 31"}),
    ("Put the kids' soccer game on Saturday at 9:00 in my calendar", {"title": "kids' soccer game", "date": "Saturday", "time": "9:00"}),
]

TRAIN["search_web"] = [
    ("search for best hiking trails near Denver", {"query": "best hiking trails near Denver"}),
    ("Google how to fix a leaky faucet", {"query": "how to fix a leaky faucet"}),
    ("look up reviews for the Sony WH-1000XM5 online", {"query": "reviews for the Sony WH-1000XM5"}),
    ("Can you search the web for the latest news about the Mars rover?", {"query": "latest news about the Mars rover"}),
    ("find me articles on intermittent fasting", {"query": "intermittent fasting"}),
    ("web search: python asyncio tutorial", {"query": "python asyncio tutorial"}),
    ("what are people saying online about the new iPhone", {"query": "the new iPhone"}),
    ("Search 'cheap flights to Lisbon in October'", {"query": "cheap flights to Lisbon in October"}),
    ("google opening hours of the Louvre", {"query": "opening hours of the Louvre"}),
    ("Could you look up who is playing at Madison Square Garden this weekend?", {"query": "who is playing at Madison Square Garden this weekend"}),
    ("search the internet for vegan lasagna recipes", {"query": "vegan lasagna recipes"}),
    ("I need you to find information on the 2024 tax brackets", {"query": "2024 tax brackets"}),
    ("look up the latest election results", {"query": "latest election results"}),
    ("Search for a plumber near me", {"query": "plumber near me"}),
    ("pls google symptoms of vitamin D deficiency", {"query": "symptoms of vitamin D deficiency"}),
    ("Find out online if the Golden Gate Bridge is closed today", {"query": "the Golden Gate Bridge is closed today"}),
    ("search the web for 'used Subaru Outback under 15k'", {"query": "used Subaru Outback under 15k"}),
    ("Search for today's top headlines", {"query": "today's top headlines"}),
    ("Look up the best-rated dishwashers of 2025 on the web", {"query": "best-rated dishwashers of 2025"}),
    ("can you do a quick search on remote work statistics", {"query": "remote work statistics"}),
    ("Search the web: how tall is the Burj Khalifa", {"query": "how tall is the Burj Khalifa"}),
    ("Find me some websites that sell vintage vinyl records", {"query": "websites that sell vintage vinyl records"}),
    ("google 'react useEffect cleanup'", {"query": "react useEffect cleanup"}),
    ("Look online for a good Italian cookbook for beginners", {"query": "good Italian cookbook for beginners"}),
    ("search for news on the Federal Reserve interest rate decision", {"query": "news on the Federal Reserve interest rate decision"}),
    ("search up reviews of Dune Part Two", {"query": "reviews of Dune Part Two"}),
    ("Do a web search for electric bikes under $1000", {"query": "electric bikes under $1000"}),
    ("search kids birthday party ideas", {"query": "kids birthday party ideas"}),
    ("Can you look up the phone number of the nearest DMV?", {"query": "phone number of the nearest DMV"}),
    ("find recent research papers about CRISPR online", {"query": "recent research papers about CRISPR"}),
    ("Search the web for Lakers score last night", {"query": "Lakers score last night"}),
    ("Look up how long it takes to get a Schengen visa", {"query": "how long it takes to get a Schengen visa"}),
    ("web search for things to do in Kyoto with kids", {"query": "things to do in Kyoto with kids"}),
    ("google the release date of GTA 6", {"query": "release date of GTA 6"}),
    ("Please search online for volunteer opportunities in Chicago", {"query": "volunteer opportunities in Chicago"}),
    ("look up what time Costco closes", {"query": "what time Costco closes"}),
    ("Search Wikipedia for Ada Lovelace", {"query": "Ada Lovelace"}),
    ("can you find any news about the train strike in France", {"query": "news about the train strike in France"}),
    ("search: best budget laptop for programming", {"query": "best budget laptop for programming"}),
    ("Hunt down some tutorials on watercolor painting online", {"query": "tutorials on watercolor painting"}),
    ("Search for the current price of gold", {"query": "current price of gold"}),
    ("google are tomatoes a fruit", {"query": "are tomatoes a fruit"}),
    ("Look up the menu for Shake Shack on the internet", {"query": "menu for Shake Shack"}),
    ("search for job openings for data analysts in Austin", {"query": "job openings for data analysts in Austin"}),
    ("Find online reviews of Hotel Arts Barcelona", {"query": "reviews of Hotel Arts Barcelona"}),
    ("websearch marathon training plan 16 weeks", {"query": "marathon training plan 16 weeks"}),
]

TRAIN["set_timer"] = [
    ("set a timer for 10 minutes", {"duration_minutes": 10}),
    ("Timer 5 min", {"duration_minutes": 5}),
    ("start a 25 minute pomodoro timer", {"duration_minutes": 25, "label": "pomodoro"}),
    ("Can you set a timer for half an hour?", {"duration_minutes": (30, "half an hour")}),
    ("set timer for 90 seconds", {"duration_minutes": (1.5, "90 seconds")}),
    ("I'm boiling eggs, set a timer for 7 minutes", {"duration_minutes": 7, "label": "boiling eggs"}),
    ("timer for the pasta, 11 minutes", {"duration_minutes": 11, "label": "pasta"}),
    ("Please set a twenty minute timer", {"duration_minutes": (20, "twenty")}),
    ("count down 3 minutes", {"duration_minutes": 3}),
    ("set a 1 hour timer for the roast", {"duration_minutes": (60, "1 hour"), "label": "roast"}),
    ("Hey, could you time 45 minutes for my laundry?", {"duration_minutes": 45, "label": "laundry"}),
    ("tea timer 4 mins", {"duration_minutes": 4, "label": "tea"}),
    ("Set a timer for an hour and a half", {"duration_minutes": (90, "an hour and a half")}),
    ("start countdown: 15 minutes, label it homework", {"duration_minutes": 15, "label": "homework"}),
    ("set timer 2 min", {"duration_minutes": 2}),
    ("I need a timer for 40 minutes for the bread in the oven", {"duration_minutes": 40, "label": "bread"}),
    ("Timer, 8 minutes, please", {"duration_minutes": 8}),
    ("could you start a timer of 12 minutes for the nap", {"duration_minutes": 12, "label": "nap"}),
    ("set a 30 second timer", {"duration_minutes": (0.5, "30 second")}),
    ("give me a 6 minute timer for plank practice", {"duration_minutes": 6, "label": "plank practice"}),
    ("Put a timer on for three minutes", {"duration_minutes": (3, "three")}),
    ("start a timer for 50 minutes called study session", {"duration_minutes": 50, "label": "study session"}),
    ("timer 2 hours", {"duration_minutes": (120, "2 hours")}),
    ("Can you set a quick five-minute timer?", {"duration_minutes": (5, "five")}),
    ("Set a cooking timer for 18 minutes", {"duration_minutes": 18, "label": "cooking"}),
    ("I want a timer going for 35 minutes", {"duration_minutes": 35}),
    ("set the timer to 9 minutes for the rice", {"duration_minutes": 9, "label": "rice"}),
    ("Start a 15-minute timer labeled 'call back'", {"duration_minutes": 15, "label": "call back"}),
    ("timer fourty five minutes", {"duration_minutes": (45, "fourty five")}),
    ("Please time my presentation rehearsal, 20 minutes", {"duration_minutes": 20, "label": "presentation rehearsal"}),
    ("set a quarter hour timer", {"duration_minutes": (15, "quarter hour")}),
    ("Run a timer for 100 minutes", {"duration_minutes": 100}),
    ("Timer for the cookies: 13 minutes", {"duration_minutes": 13, "label": "cookies"}),
    ("I'm meditating, set a 10 min timer", {"duration_minutes": 10, "label": "meditating"}),
    ("start a 3.5 minute timer", {"duration_minutes": 3.5}),
    ("make a timer for 22 minutes", {"duration_minutes": 22}),
    ("set a timer for 1 minute", {"duration_minutes": 1}),
    ("Could you set a timer for 16 minutes for the steak to rest?", {"duration_minutes": 16, "label": "steak"}),
    ("Timer! 4 minutes! Quick!", {"duration_minutes": 4}),
    ("set a parking meter timer for 55 minutes", {"duration_minutes": 55, "label": "parking meter"}),
    ("Start timing 2 and a half minutes", {"duration_minutes": (2.5, "2 and a half minutes")}),
    ("set timer thirty minutes workout", {"duration_minutes": (30, "thirty"), "label": "workout"}),
    ("Would you mind setting a 14 minute timer for the kids' screen time?", {"duration_minutes": 14, "label": "kids' screen time"}),
    ("new timer 75 minutes", {"duration_minutes": 75}),
    ("set a timer for six minutes to steep the cold brew", {"duration_minutes": (6, "six"), "label": "cold brew"}),
    ("Timer for 24 minutes please, it's for the lasagna", {"duration_minutes": 24, "label": "lasagna"}),
]

TRAIN["convert_currency"] = [
    ("convert 100 dollars to euros", {"amount": 100, "from_currency": ("USD", "dollars"), "to_currency": ("EUR", "euros")}),
    ("How much is 50 GBP in USD?", {"amount": 50, "from_currency": "GBP", "to_currency": "USD"}),
    ("what's 2500 yen in dollars", {"amount": 2500, "from_currency": ("JPY", "yen"), "to_currency": ("USD", "dollars")}),
    ("Convert €75 to pounds", {"amount": 75, "from_currency": ("EUR", "€"), "to_currency": ("GBP", "pounds")}),
    ("how many Swiss francs is 300 euros", {"amount": 300, "from_currency": ("EUR", "euros"), "to_currency": ("CHF", "Swiss francs")}),
    ("exchange rate from CAD to USD", {"from_currency": "CAD", "to_currency": "USD"}),
    ("I have 1,000 Mexican pesos, how much is that in US dollars?", {"amount": (1000, "1,000"), "from_currency": ("MXN", "Mexican pesos"), "to_currency": ("USD", "US dollars")}),
    ("$20 in rupees?", {"amount": 20, "from_currency": ("USD", "$"), "to_currency": ("INR", "rupees")}),
    ("Please convert 45.50 AUD to NZD", {"amount": (45.5, "45.50"), "from_currency": "AUD", "to_currency": "NZD"}),
    ("how much would 200 bucks be in euros", {"amount": 200, "from_currency": ("USD", "bucks"), "to_currency": ("EUR", "euros")}),
    ("what is one euro worth in dollars today", {"amount": (1, "one"), "from_currency": ("EUR", "euro"), "to_currency": ("USD", "dollars")}),
    ("Convert 10k USD into Japanese yen", {"amount": (10000, "10k"), "from_currency": "USD", "to_currency": ("JPY", "Japanese yen")}),
    ("I'm traveling to Thailand, how many baht will I get for 500 dollars?", {"amount": 500, "from_currency": ("USD", "dollars"), "to_currency": ("THB", "baht")}),
    ("how much is 80 quid in euros", {"amount": 80, "from_currency": ("GBP", "quid"), "to_currency": ("EUR", "euros")}),
    ("eur to gbp 150", {"amount": 150, "from_currency": "EUR", "to_currency": "GBP"}),
    ("What's 3000 Swedish kronor in dollars?", {"amount": 3000, "from_currency": ("SEK", "Swedish kronor"), "to_currency": ("USD", "dollars")}),
    ("Convert fifty euros to Canadian dollars", {"amount": (50, "fifty"), "from_currency": ("EUR", "euros"), "to_currency": ("CAD", "Canadian dollars")}),
    ("how much is 1 Kuwaiti dinar in usd", {"amount": 1, "from_currency": ("KWD", "Kuwaiti dinar"), "to_currency": "USD"}),
    ("Can you tell me how much 250 Brazilian reais is in euros?", {"amount": 250, "from_currency": ("BRL", "Brazilian reais"), "to_currency": ("EUR", "euros")}),
    ("convert 12.99 dollars to pounds sterling", {"amount": 12.99, "from_currency": ("USD", "dollars"), "to_currency": ("GBP", "pounds sterling")}),
    ("what's the dollar to yuan rate", {"from_currency": ("USD", "dollar"), "to_currency": ("CNY", "yuan")}),
    ("How much is 5,000 won in USD", {"amount": (5000, "5,000"), "from_currency": ("KRW", "won"), "to_currency": "USD"}),
    ("I need to know what 60 Swiss francs are in pounds", {"amount": 60, "from_currency": ("CHF", "Swiss francs"), "to_currency": ("GBP", "pounds")}),
    ("convert 400 usd to mxn", {"amount": 400, "from_currency": "USD", "to_currency": "MXN"}),
    ("How many euros do I get for 1200 Danish krone?", {"amount": 1200, "from_currency": ("DKK", "Danish krone"), "to_currency": ("EUR", "euros")}),
    ("whats 99 euro in american dollars", {"amount": 99, "from_currency": ("EUR", "euro"), "to_currency": ("USD", "american dollars")}),
    ("change 300 pounds into euros", {"amount": 300, "from_currency": ("GBP", "pounds"), "to_currency": ("EUR", "euros")}),
    ("convert ¥10000 to dollars", {"amount": 10000, "from_currency": ("JPY", "¥"), "to_currency": ("USD", "dollars")}),
    ("How much is 75 Canadian dollars in US dollars?", {"amount": 75, "from_currency": ("CAD", "Canadian dollars"), "to_currency": ("USD", "US dollars")}),
    ("Tell me the value of 20 euros in Turkish lira", {"amount": 20, "from_currency": ("EUR", "euros"), "to_currency": ("TRY", "Turkish lira")}),
    ("How many Argentine pesos is 300 dollars", {"amount": 300, "from_currency": ("USD", "dollars"), "to_currency": ("ARS", "Argentine pesos")}),
    ("currency conversion: 85 GBP -> EUR", {"amount": 85, "from_currency": "GBP", "to_currency": "EUR"}),
    ("how much is a thousand rupees in dollars", {"amount": (1000, "a thousand"), "from_currency": ("INR", "rupees"), "to_currency": ("USD", "dollars")}),
    ("what do 40 euros come to in Polish zloty", {"amount": 40, "from_currency": ("EUR", "euros"), "to_currency": ("PLN", "Polish zloty")}),
    ("Convert 7.5 million yen to euros", {"amount": (7500000, "7.5 million"), "from_currency": ("JPY", "yen"), "to_currency": ("EUR", "euros")}),
    ("I want to convert 600 Hong Kong dollars to US dollars", {"amount": 600, "from_currency": ("HKD", "Hong Kong dollars"), "to_currency": ("USD", "US dollars")}),
    ("USD to EUR for 19.99", {"amount": 19.99, "from_currency": "USD", "to_currency": "EUR"}),
    ("How much is 150 Singapore dollars worth in pounds?", {"amount": 150, "from_currency": ("SGD", "Singapore dollars"), "to_currency": ("GBP", "pounds")}),
    ("whats 25 bucks in canadian", {"amount": 25, "from_currency": ("USD", "bucks"), "to_currency": ("CAD", "canadian")}),
    ("convert 2 grand to euros", {"amount": (2000, "2 grand"), "from_currency": ("USD", None), "to_currency": ("EUR", "euros")}),
    ("How much are 500 Norwegian kroner in euros?", {"amount": 500, "from_currency": ("NOK", "Norwegian kroner"), "to_currency": ("EUR", "euros")}),
    ("what's 10 euros in South African rand", {"amount": 10, "from_currency": ("EUR", "euros"), "to_currency": ("ZAR", "South African rand")}),
    ("Please convert 3,250.75 dollars into Australian dollars", {"amount": (3250.75, "3,250.75"), "from_currency": ("USD", "dollars"), "to_currency": ("AUD", "Australian dollars")}),
    ("how much is 70 pounds in dollars", {"amount": 70, "from_currency": ("GBP", "pounds"), "to_currency": ("USD", "dollars")}),
    ("convert 15 euros to yen please", {"amount": 15, "from_currency": ("EUR", "euros"), "to_currency": ("JPY", "yen")}),
    ("What's the rate for changing 900 Czech koruna to euros?", {"amount": 900, "from_currency": ("CZK", "Czech koruna"), "to_currency": ("EUR", "euros")}),
]

TRAIN["get_stock_price"] = [
    ("What's Apple's stock price?", {"symbol": ("AAPL", "Apple")}),
    ("AAPL price", {"symbol": "AAPL"}),
    ("how is Tesla stock doing today", {"symbol": ("TSLA", "Tesla")}),
    ("check the share price of Microsoft", {"symbol": ("MSFT", "Microsoft")}),
    ("stock price for NVDA", {"symbol": "NVDA"}),
    ("Can you tell me what Amazon is trading at right now?", {"symbol": ("AMZN", "Amazon")}),
    ("googl quote", {"symbol": "GOOGL"}),
    ("how much is one share of Berkshire Hathaway", {"symbol": ("BRK.B", "Berkshire Hathaway")}),
    ("What's Netflix at?", {"symbol": ("NFLX", "Netflix")}),
    ("current price of META", {"symbol": "META"}),
    ("How's my Disney stock doing?", {"symbol": ("DIS", "Disney")}),
    ("ticker IBM", {"symbol": "IBM"}),
    ("what is the stock price of Coca-Cola", {"symbol": ("KO", "Coca-Cola")}),
    ("Did Nike shares go up today?", {"symbol": ("NKE", "Nike")}),
    ("Check AMD", {"symbol": "AMD"}),
    ("price of intel stock", {"symbol": ("INTC", "intel")}),
    ("What is JPMorgan trading for?", {"symbol": ("JPM", "JPMorgan")}),
    ("give me a quote on Shopify", {"symbol": ("SHOP", "Shopify")}),
    ("$COIN price?", {"symbol": "COIN"}),
    ("How are Boeing shares doing this morning?", {"symbol": ("BA", "Boeing")}),
    ("stock quote for Walmart please", {"symbol": ("WMT", "Walmart")}),
    ("what's the share price of Spotify", {"symbol": ("SPOT", "Spotify")}),
    ("I own some Starbucks stock, what's it worth now?", {"symbol": ("SBUX", "Starbucks")}),
    ("whats the price of uber stock", {"symbol": ("UBER", "uber")}),
    ("Look up the stock price for Salesforce", {"symbol": ("CRM", "Salesforce")}),
    ("How much is Alphabet stock?", {"symbol": ("GOOGL", "Alphabet")}),
    ("What's Pfizer trading at?", {"symbol": ("PFE", "Pfizer")}),
    ("is costco stock up or down today", {"symbol": ("COST", "costco")}),
    ("give me the latest price for ticker V", {"symbol": "V"}),
    ("Check the stock price of Airbnb", {"symbol": ("ABNB", "Airbnb")}),
    ("How's Ford's stock price looking", {"symbol": ("F", "Ford")}),
    ("share price of Adobe?", {"symbol": ("ADBE", "Adobe")}),
    ("Tell me the current price of Oracle stock", {"symbol": ("ORCL", "Oracle")}),
    ("what's MSFT trading at", {"symbol": "MSFT"}),
    ("How much does a share of McDonald's cost?", {"symbol": ("MCD", "McDonald's")}),
    ("Toyota stock price", {"symbol": ("TM", "Toyota")}),
    ("Quote for Palantir", {"symbol": ("PLTR", "Palantir")}),
    ("What's the latest on Goldman Sachs shares?", {"symbol": ("GS", "Goldman Sachs")}),
    ("hows nvidia doing in the market today", {"symbol": ("NVDA", "nvidia")}),
    ("Can you check how PayPal's stock is doing?", {"symbol": ("PYPL", "PayPal")}),
    ("stock: Exxon", {"symbol": ("XOM", "Exxon")}),
    ("price check on Zoom shares", {"symbol": ("ZM", "Zoom")}),
    ("I'm thinking of buying Visa shares, what do they cost today?", {"symbol": ("V", "Visa")}),
    ("what is the current trading price of Johnson & Johnson", {"symbol": ("JNJ", "Johnson & Johnson")}),
    ("How much is Samsung stock", {"symbol": ("005930.KS", "Samsung")}),
    ("Snowflake share price please", {"symbol": ("SNOW", "Snowflake")}),
]

TRAIN["play_music"] = [
    ("play some jazz", {"genre": "jazz"}),
    ("Play Bohemian Rhapsody by Queen", {"query": "Bohemian Rhapsody", "artist": "Queen"}),
    ("put on Taylor Swift", {"artist": "Taylor Swift"}),
    ("I need some music to focus, something lo-fi", {"genre": "lo-fi"}),
    ("Can you play Hit Me Hard and Soft by Billie Eilish?", {"query": "Hit Me Hard and Soft", "artist": "Billie Eilish"}),
    ("play music", {}),
    ("play something relaxing", {"query": "relaxing"}),
    ("Put on some 90s hip hop", {"genre": "90s hip hop"}),
    ("play Hotel California", {"query": "Hotel California"}),
    ("shuffle songs by Drake", {"artist": "Drake"}),
    ("I'm in the mood for classical music, maybe some Beethoven", {"genre": "classical", "artist": "Beethoven"}),
    ("Play my workout playlist", {"query": "workout playlist"}),
    ("could you play some country music please", {"genre": "country"}),
    ("play Blinding Lights", {"query": "Blinding Lights"}),
    ("Put on Kind of Blue by Miles Davis", {"query": "Kind of Blue", "artist": "Miles Davis"}),
    ("Play heavy metal, loud", {"genre": "heavy metal"}),
    ("i want to hear some adele", {"artist": "Adele"}),
    ("Play rain sounds for sleeping", {"query": "rain sounds"}),
    ("can u put on some k-pop", {"genre": "k-pop"}),
    ("Play Despacito", {"query": "Despacito"}),
    ("play the Beatles", {"artist": "The Beatles"}),
    ("Music please. Something upbeat for cleaning the house", {"query": "upbeat"}),
    ("put on reggae", {"genre": "reggae"}),
    ("play Lose Yourself by Eminem", {"query": "Lose Yourself", "artist": "Eminem"}),
    ("I'd love to listen to some Norah Jones", {"artist": "Norah Jones"}),
    ("Play some chill electronic music", {"genre": "chill electronic"}),
    ("Play the Interstellar soundtrack", {"query": "Interstellar soundtrack"}),
    ("put on something by Fleetwood Mac", {"artist": "Fleetwood Mac"}),
    ("play blues", {"genre": "blues"}),
    ("Start playing Dancing Queen", {"query": "Dancing Queen"}),
    ("play some Bad Bunny reggaeton", {"artist": "Bad Bunny", "genre": "reggaeton"}),
    ("Can you play Clair de Lune", {"query": "Clair de Lune"}),
    ("Throw on some punk rock", {"genre": "punk rock"}),
    ("I wanna hear Kendrick Lamar", {"artist": "Kendrick Lamar"}),
    ("play christmas music", {"genre": "christmas"}),
    ("Play Shape of You", {"query": "Shape of You"}),
    ("play songs from the Hamilton musical", {"query": "Hamilton musical"}),
    ("play indie folk", {"genre": "indie folk"}),
    ("Put on Coldplay, the album Parachutes", {"artist": "Coldplay", "query": "Parachutes"}),
    ("some bossa nova would be nice right now", {"genre": "bossa nova"}),
    ("Play a song by Ed Sheeran", {"artist": "Ed Sheeran"}),
    ("play Smells Like Teen Spirit by Nirvana", {"query": "Smells Like Teen Spirit", "artist": "Nirvana"}),
    ("Could you play some soft piano music for dinner?", {"genre": "soft piano"}),
    ("play white noise", {"query": "white noise"}),
    ("Play some Daft Punk, house music vibes", {"artist": "Daft Punk", "genre": "house"}),
    ("put on the song Hallelujah", {"query": "Hallelujah"}),
    ("play Beyoncé", {"artist": "Beyoncé"}),
]

TRAIN["set_reminder"] = [
    ("remind me to call mom at 5pm", {"text": "call mom", "time": "5pm"}),
    ("Remind me tomorrow morning to take out the trash", {"text": "take out the trash", "time": "tomorrow morning"}),
    ("set a reminder to pay rent on the 1st", {"text": "pay rent", "time": "the 1st"}),
    ("Don't let me forget to water the plants tonight", {"text": "water the plants", "time": "tonight"}),
    ("reminder: dentist appointment friday 9am", {"text": "dentist appointment", "time": "Friday 9am"}),
    ("Can you remind me in 20 minutes to check the oven?", {"text": "check the oven", "time": "in 20 minutes"}),
    ("remind me at 3 to pick up the kids", {"text": "pick up the kids", "time": "3"}),
    ("Please remind me next Monday to renew my car insurance", {"text": "renew my car insurance", "time": "next Monday"}),
    ("set reminder buy milk 6pm", {"text": "buy milk", "time": "6pm"}),
    ("I need a reminder on Thursday at noon to submit my timesheet", {"text": "submit my timesheet", "time": "Thursday at noon"}),
    ("remind me to take my medication at 8 tonight", {"text": "take my medication", "time": "8 tonight"}),
    ("In an hour, remind me to move the laundry to the dryer", {"text": "move the laundry to the dryer", "time": "in an hour"}),
    ("Remind me on May 5 that it's Jenny's birthday", {"text": "it's Jenny's birthday", "time": "May 5"}),
    ("remind me about the team lunch tomorrow at 12:30", {"text": "the team lunch", "time": "tomorrow at 12:30"}),
    ("Could you set a reminder for 7:15am to stretch?", {"text": "stretch", "time": "7:15am"}),
    ("Reminder to call the bank at 10 on Tuesday", {"text": "call the bank", "time": "10 on Tuesday"}),
    ("remind me to cancel the free trial before the 28th", {"text": "cancel the free trial", "time": "before the 28th"}),
    ("set a reminder for this evening: email the photos to grandpa", {"text": "email the photos to grandpa", "time": "this evening"}),
    ("Hey, remind me to book flights this weekend", {"text": "book flights", "time": "this weekend"}),
    ("Don't let me forget the parent meeting at 4:30 tomorrow", {"text": "the parent meeting", "time": "4:30 tomorrow"}),
    ("remind me in 2 hours to stand up and walk around", {"text": "stand up and walk around", "time": "in 2 hours"}),
    ("Please set a reminder to feed the cat at 6 pm", {"text": "feed the cat", "time": "6 pm"}),
    ("remind me sunday night to prep lunches for the week", {"text": "prep lunches for the week", "time": "Sunday night"}),
    ("new reminder: return library books, Wednesday", {"text": "return library books", "time": "Wednesday"}),
    ("Remind me at midnight to check the lottery numbers", {"text": "check the lottery numbers", "time": "midnight"}),
    ("I keep forgetting to call my grandmother. Remind me Saturday at 11.", {"text": "call my grandmother", "time": "Saturday at 11"}),
    ("remind me to defrost the chicken at 2pm", {"text": "defrost the chicken", "time": "2pm"}),
    ("set a reminder for tomorrow: pick up dry cleaning", {"text": "pick up dry cleaning", "time": "tomorrow"}),
    ("Can you remind me in thirty minutes to turn off the sprinklers?", {"text": "turn off the sprinklers", "time": "in thirty minutes"}),
    ("remind me to send the invoice end of day", {"text": "send the invoice", "time": "end of day"}),
    ("Remind me on the 15th to pay the credit card bill", {"text": "pay the credit card bill", "time": "the 15th"}),
    ("reminder at 9:45 for standup", {"text": "standup", "time": "9:45"}),
    ("please remind me to bring my passport tomorrow before I leave", {"text": "bring my passport", "time": "tomorrow"}),
    ("Set a reminder next Friday at 3pm to follow up with the recruiter", {"text": "follow up with the recruiter", "time": "next Friday at 3pm"}),
    ("remind me to charge my phone in 45 min", {"text": "charge my phone", "time": "in 45 min"}),
    ("Can you make sure I remember to buy flowers for Valentine's Day on February 13?", {"text": "buy flowers for Valentine's Day", "time": "February 13"}),
    ("remind me tonight at 9 to lock the back door", {"text": "lock the back door", "time": "tonight at 9"}),
    ("set reminder: vote on Nov 5", {"text": "vote", "time": "Nov 5"}),
    ("Remind me at lunchtime to call the vet", {"text": "call the vet", "time": "lunchtime"}),
    ("please remind me to update my resume on Sunday afternoon", {"text": "update my resume", "time": "Sunday afternoon"}),
    ("Remind me in 5 minutes to take the cookies out", {"text": "take the cookies out", "time": "in 5 minutes"}),
    ("reminder for 8am tomorrow - gym", {"text": "gym", "time": "8am tomorrow"}),
    ("I need to remember to text Sophie back at 7", {"text": "text Sophie back", "time": "7"}),
    ("Remind me on Monday morning to order printer ink", {"text": "order printer ink", "time": "Monday morning"}),
    ("remind me to get gas on the way home at 5:30", {"text": "get gas on the way home", "time": "5:30"}),
    ("Set a reminder in 3 days to check on the package", {"text": "check on the package", "time": "in 3 days"}),
]

TRAIN["translate_text"] = [
    ("translate 'good morning' to Spanish", {"text": "good morning", "target_language": "Spanish"}),
    ("How do you say thank you in Japanese?", {"text": "thank you", "target_language": "Japanese"}),
    ("Translate this into French: Where is the train station?", {"text": "Where is the train station?", "target_language": "French"}),
    ("what's 'cheers' in german", {"text": "cheers", "target_language": "German"}),
    ("Can you translate 'I love you' into Italian?", {"text": "I love you", "target_language": "Italian"}),
    ("translate to portuguese: the meeting is cancelled", {"text": "the meeting is cancelled", "target_language": "Portuguese"}),
    ("How would I say 'where is the bathroom' in Mandarin", {"text": "where is the bathroom", "target_language": "Mandarin"}),
    ("Translate 'Happy birthday, grandma!' into Korean", {"text": "Happy birthday, grandma!", "target_language": "Korean"}),
    ("what does 'je ne sais pas' mean in English", {"text": "je ne sais pas", "target_language": "English"}),
    ("Spanish for 'I'm allergic to peanuts'?", {"text": "I'm allergic to peanuts", "target_language": "Spanish"}),
    ("please translate 'See you tomorrow' to Dutch", {"text": "See you tomorrow", "target_language": "Dutch"}),
    ("how do I say 'the check, please' in French", {"text": "the check, please", "target_language": "French"}),
    ("Translate into Arabic: Welcome to our home", {"text": "Welcome to our home", "target_language": "Arabic"}),
    ("what's the Russian word for cat", {"text": "cat", "target_language": "Russian"}),
    ("Could you put 'Our office is closed on Monday' into German for me?", {"text": "Our office is closed on Monday", "target_language": "German"}),
    ("translate 'gracias por todo' to english", {"text": "gracias por todo", "target_language": "English"}),
    ("How do you say 'nice to meet you' in Hindi?", {"text": "nice to meet you", "target_language": "Hindi"}),
    ("Turn this into Swedish: I would like a coffee", {"text": "I would like a coffee", "target_language": "Swedish"}),
    ("translate hello to greek", {"text": "hello", "target_language": "Greek"}),
    ("I need 'please sign here' in Polish", {"text": "please sign here", "target_language": "Polish"}),
    ("What's 'how much does this cost' in Thai?", {"text": "how much does this cost", "target_language": "Thai"}),
    ("Translate 'The package will arrive on Friday' into Spanish, please", {"text": "The package will arrive on Friday", "target_language": "Spanish"}),
    ("say 'good night sweetheart' in italian", {"text": "good night sweetheart", "target_language": "Italian"}),
    ("Can you translate 'Ich bin müde' into English?", {"text": "Ich bin müde", "target_language": "English"}),
    ("translate to Turkish: where can I buy a SIM card", {"text": "where can I buy a SIM card", "target_language": "Turkish"}),
    ("How would you say 'I'm lost' in Vietnamese", {"text": "I'm lost", "target_language": "Vietnamese"}),
    ("french translation of 'keep the change'", {"text": "keep the change", "target_language": "French"}),
    ("translate 'we are running late' to japanese", {"text": "we are running late", "target_language": "Japanese"}),
    ("What's the Hebrew for 'peace'?", {"text": "peace", "target_language": "Hebrew"}),
    ("Translate into Brazilian Portuguese: the invoice is attached", {"text": "the invoice is attached", "target_language": ("Portuguese", "Brazilian Portuguese")}),
    ("how do you say 'congratulations' in Finnish", {"text": "congratulations", "target_language": "Finnish"}),
    ("could u translate 'no onions please' into spanish", {"text": "no onions please", "target_language": "Spanish"}),
    ("Please translate the sentence 'The museum opens at nine' to German", {"text": "The museum opens at nine", "target_language": "German"}),
    ("What does 'arigato gozaimasu' mean in English?", {"text": "arigato gozaimasu", "target_language": "English"}),
    ("translate 'Merry Christmas' into Norwegian", {"text": "Merry Christmas", "target_language": "Norwegian"}),
    ("I want to tell my host 'the dinner was delicious' in Korean", {"text": "the dinner was delicious", "target_language": "Korean"}),
    ("Indonesian for 'how are you'", {"text": "how are you", "target_language": "Indonesian"}),
    ("translate this to Czech: do you accept credit cards?", {"text": "do you accept credit cards?", "target_language": "Czech"}),
    ("how to say 'excuse me' in Cantonese", {"text": "excuse me", "target_language": "Cantonese"}),
    ("Translate 'I need a doctor' to French, it's urgent", {"text": "I need a doctor", "target_language": "French"}),
    ("whats 'water' in swahili", {"text": "water", "target_language": "Swahili"}),
    ("Translate 'Please send me the contract by Friday' into Chinese", {"text": "Please send me the contract by Friday", "target_language": "Chinese"}),
    ("can you help me say 'I'm vegetarian' in Spanish", {"text": "I'm vegetarian", "target_language": "Spanish"}),
    ("convert 'good luck on your exam' to Italian", {"text": "good luck on your exam", "target_language": "Italian"}),
    ("How do I write 'best regards' in German?", {"text": "best regards", "target_language": "German"}),
    ("Translate 'one ticket to Kyoto, please' into Japanese", {"text": "one ticket to Kyoto, please", "target_language": "Japanese"}),
]

TRAIN["book_restaurant"] = [
    ("book a table for 4 at Nobu tonight at 8", {"restaurant": "Nobu", "party_size": 4, "date": "tonight", "time": "8"}),
    ("Reserve a table for two at Olive Garden on Friday at 7pm", {"restaurant": "Olive Garden", "party_size": (2, "two"), "date": "Friday", "time": "7pm"}),
    ("I need a dinner reservation for 6 people tomorrow", {"party_size": 6, "date": "tomorrow"}),
    ("Can you get us a table at The Ivy for 3 on Saturday night?", {"restaurant": "The Ivy", "party_size": 3, "date": "Saturday night"}),
    ("table for 2, Sushi Zen, 7:30", {"restaurant": "Sushi Zen", "party_size": 2, "time": "7:30"}),
    ("book dinner for five at Luigi's next Thursday", {"restaurant": "Luigi's", "party_size": (5, "five"), "date": "next Thursday"}),
    ("Reserve a spot for 8 at Chez Pierre on December 24 at 6:30pm", {"restaurant": "Chez Pierre", "party_size": 8, "date": "December 24", "time": "6:30pm"}),
    ("make a reservation at Blue Hill for two people", {"restaurant": "Blue Hill", "party_size": (2, "two")}),
    ("get me a table for one at the ramen place on Main Street at noon", {"restaurant": "the ramen place on Main Street", "party_size": (1, "one"), "time": "noon"}),
    ("Please book a table at Dishoom for 4 on Sunday at 1pm", {"restaurant": "Dishoom", "party_size": 4, "date": "Sunday", "time": "1pm"}),
    ("We're a party of 10, can you book something at Carmine's for Friday?", {"restaurant": "Carmine's", "party_size": 10, "date": "Friday"}),
    ("reserve Nando's for 3 tonight", {"restaurant": "Nando's", "party_size": 3, "date": "tonight"}),
    ("Book a table for my anniversary, just the two of us, at Le Bernardin on the 14th at 8pm", {"restaurant": "Le Bernardin", "party_size": (2, "two"), "date": "the 14th", "time": "8pm"}),
    ("restaurant booking: 6 guests, Saturday, 7", {"party_size": 6, "date": "Saturday", "time": "7"}),
    ("Could you reserve a table for twelve at Texas Roadhouse for my son's birthday on May 3?", {"restaurant": "Texas Roadhouse", "party_size": (12, "twelve"), "date": "May 3"}),
    ("table for 2 tomorrow at 9pm somewhere nice", {"party_size": 2, "date": "tomorrow", "time": "9pm"}),
    ("book The Cheesecake Factory, party of 7, tonight 6:45", {"restaurant": "The Cheesecake Factory", "party_size": 7, "date": "tonight", "time": "6:45"}),
    ("I'd like to book lunch for 3 at Pret on Wednesday at 12:30", {"restaurant": "Pret", "party_size": 3, "date": "Wednesday", "time": "12:30"}),
    ("can you reserve a table at Hell's Kitchen for four", {"restaurant": "Hell's Kitchen", "party_size": (4, "four")}),
    ("Reserve for 2 at Din Tai Fung, 6pm", {"restaurant": "Din Tai Fung", "party_size": 2, "time": "6pm"}),
    ("get a reservation at Balthazar for brunch on Sunday, we're 5", {"restaurant": "Balthazar", "party_size": 5, "date": "Sunday"}),
    ("book a table at Eleven Madison Park for 2 on March 8th at 7:30pm", {"restaurant": "Eleven Madison Park", "party_size": 2, "date": "March 8th", "time": "7:30pm"}),
    ("Reserve a table for 9 at Peking Duck House tomorrow night", {"restaurant": "Peking Duck House", "party_size": 9, "date": "tomorrow night"}),
    ("dinner reservation at Osteria Mozza, 4 ppl, 8:15", {"restaurant": "Osteria Mozza", "party_size": 4, "time": "8:15"}),
    ("We need a table for six at Zuma on Friday at 9", {"restaurant": "Zuma", "party_size": (6, "six"), "date": "Friday", "time": "9"}),
    ("Book Sakura for 2 this evening", {"restaurant": "Sakura", "party_size": 2, "date": "this evening"}),
    ("Please make a booking for 3 adults at The Wolseley on the 22nd", {"restaurant": "The Wolseley", "party_size": 3, "date": "the 22nd"}),
    ("can i get a table for 1 at the counter at Momofuku at 6:30", {"restaurant": "Momofuku", "party_size": 1, "time": "6:30"}),
    ("I want to take my parents out to Ruth's Chris on Saturday at 7, so a table for 3", {"restaurant": "Ruth's Chris", "party_size": 3, "date": "Saturday", "time": "7"}),
    ("Reserve a table for 15 at Buca di Beppo for the office party, December 12", {"restaurant": "Buca di Beppo", "party_size": 15, "date": "December 12"}),
    ("book a table for two at Nopa tomorrow at 7:45", {"restaurant": "Nopa", "party_size": (2, "two"), "date": "tomorrow", "time": "7:45"}),
    ("can you book us into Dinner by Heston for 4 next Saturday", {"restaurant": "Dinner by Heston", "party_size": 4, "date": "next Saturday"}),
    ("table for 4 at 7pm at the Thai place downtown", {"restaurant": "the Thai place downtown", "party_size": 4, "time": "7pm"}),
    ("Make a reservation for eight at Maggiano's tonight at 6", {"restaurant": "Maggiano's", "party_size": (8, "eight"), "date": "tonight", "time": "6"}),
    ("Reserve a brunch table for 2 at Jack's Wife Freda on Sunday at 11am", {"restaurant": "Jack's Wife Freda", "party_size": 2, "date": "Sunday", "time": "11am"}),
    ("Book a table at Noma for 2 people", {"restaurant": "Noma", "party_size": 2}),
    ("Could you book a table for our team of 11 at Shake Shack on Friday at noon?", {"restaurant": "Shake Shack", "party_size": 11, "date": "Friday", "time": "noon"}),
    ("reserve 4 seats at Katz's Deli for tomorrow lunch", {"restaurant": "Katz's Deli", "party_size": 4, "date": "tomorrow"}),
    ("dinner for 3 at Gjelina on Thursday, 8 pm", {"restaurant": "Gjelina", "party_size": 3, "date": "Thursday", "time": "8 pm"}),
    ("Book us a table for 5 at Pizzeria Bianco on the 9th at 6:15pm", {"restaurant": "Pizzeria Bianco", "party_size": 5, "date": "the 9th", "time": "6:15pm"}),
    ("I'd like to reserve at Café Central for two, Saturday morning", {"restaurant": "Café Central", "party_size": (2, "two"), "date": "Saturday", "time": "morning"}),
    ("Reserve a table for 7 at Hakkasan for next Friday at 8:30pm", {"restaurant": "Hakkasan", "party_size": 7, "date": "next Friday", "time": "8:30pm"}),
    ("book a table for 2 at the French bistro around the corner at 8", {"restaurant": "the French bistro around the corner", "party_size": 2, "time": "8"}),
    ("get us a reservation for 4 at Tatiana on Oct 2", {"restaurant": "Tatiana", "party_size": 4, "date": "Oct 2"}),
    ("Party of 3 at Joe's Stone Crab, tonight, 7:30 please", {"restaurant": "Joe's Stone Crab", "party_size": 3, "date": "tonight", "time": "7:30"}),
    ("Could you reserve a table for a group of 20 at Tavern on the Green?", {"restaurant": "Tavern on the Green", "party_size": 20}),
]

TRAIN["get_directions"] = [
    ("directions to the airport", {"destination": "the airport"}),
    ("How do I get to Central Park from Times Square on foot?", {"destination": "Central Park", "origin": "Times Square", "mode": ("walking", "on foot")}),
    ("navigate to 221B Baker Street", {"destination": "221B Baker Street"}),
    ("What's the fastest way to drive to Boston from here?", {"destination": "Boston", "mode": ("driving", "drive")}),
    ("take me to the nearest gas station", {"destination": "the nearest gas station"}),
    ("how do i get to the Louvre by metro", {"destination": "the Louvre", "mode": ("transit", "metro")}),
    ("Directions from my hotel to the convention center, walking", {"destination": "the convention center", "origin": "my hotel", "mode": "walking"}),
    ("bike route to Golden Gate Park", {"destination": "Golden Gate Park", "mode": ("cycling", "bike")}),
    ("Can you give me driving directions to Lake Tahoe?", {"destination": "Lake Tahoe", "mode": "driving"}),
    ("how far is it to walk to the Eiffel Tower", {"destination": "the Eiffel Tower", "mode": ("walking", "walk")}),
    ("route from Brooklyn to JFK by subway", {"destination": "JFK", "origin": "Brooklyn", "mode": ("transit", "subway")}),
    ("get me to Union Station", {"destination": "Union Station"}),
    ("I'm at the library, how do I get to Jefferson High School?", {"destination": "Jefferson High School", "origin": "the library"}),
    ("Which bus do I take to get to the zoo?", {"destination": "the zoo", "mode": ("transit", "bus")}),
    ("directions to 1600 Amphitheatre Parkway, Mountain View", {"destination": "1600 Amphitheatre Parkway, Mountain View"}),
    ("How do I cycle from Oxford to Cambridge?", {"destination": "Cambridge", "origin": "Oxford", "mode": ("cycling", "cycle")}),
    ("navigate home", {"destination": "home"}),
    ("What's the best way to get to Heathrow by public transport?", {"destination": "Heathrow", "mode": ("transit", "public transport")}),
    ("walking directions to the nearest pharmacy", {"destination": "the nearest pharmacy", "mode": "walking"}),
    ("Show me the way to Grandma's house", {"destination": "Grandma's house"}),
    ("how to get from Shinjuku to Shibuya by train", {"destination": "Shibuya", "origin": "Shinjuku", "mode": ("transit", "train")}),
    ("drive to work", {"destination": "work", "mode": ("driving", "drive")}),
    ("Directions to Stanford University from San Jose", {"destination": "Stanford University", "origin": "San Jose"}),
    ("can i walk from the Colosseum to the Trevi Fountain", {"destination": "the Trevi Fountain", "origin": "the Colosseum", "mode": ("walking", "walk")}),
    ("fastest route to Whole Foods", {"destination": "Whole Foods"}),
    ("How do I get to Wembley Stadium on the tube?", {"destination": "Wembley Stadium", "mode": ("transit", "tube")}),
    ("give me cycling directions to the beach", {"destination": "the beach", "mode": "cycling"}),
    ("Take me to 350 Fifth Avenue", {"destination": "350 Fifth Avenue"}),
    ("I need to get to the hospital, fastest driving route please", {"destination": "the hospital", "mode": "driving"}),
    ("how do i get to the stadium from downtown by bike", {"destination": "the stadium", "origin": "downtown", "mode": ("cycling", "bike")}),
    ("Directions to Dolores Park by transit", {"destination": "Dolores Park", "mode": "transit"}),
    ("What's the walking route from Plaza Mayor to the Prado?", {"destination": "the Prado", "origin": "Plaza Mayor", "mode": "walking"}),
    ("how do I drive from Los Angeles to Las Vegas", {"destination": "Las Vegas", "origin": "Los Angeles", "mode": ("driving", "drive")}),
    ("navigate to the closest Starbucks", {"destination": "the closest Starbucks"}),
    ("Can you route me to the Sydney Opera House by ferry?", {"destination": "the Sydney Opera House", "mode": ("transit", "ferry")}),
    ("how long to walk to the train station", {"destination": "the train station", "mode": ("walking", "walk")}),
    ("get directions to Mount Rainier National Park", {"destination": "Mount Rainier National Park"}),
    ("Which way to the Rijksmuseum from Centraal Station by bicycle?", {"destination": "the Rijksmuseum", "origin": "Centraal Station", "mode": ("cycling", "bicycle")}),
    ("directions to my office", {"destination": "my office"}),
    ("How can I get to Harvard Square from Logan airport using the T?", {"destination": "Harvard Square", "origin": "Logan airport", "mode": ("transit", "the T")}),
    ("show me how to get to the mall by car", {"destination": "the mall", "mode": ("driving", "car")}),
    ("Route to Pike Place Market", {"destination": "Pike Place Market"}),
    ("how to reach the Acropolis on foot from our hotel", {"destination": "the Acropolis", "origin": "our hotel", "mode": ("walking", "on foot")}),
    ("navigate to 55 Water Street, Manhattan by car", {"destination": "55 Water Street, Manhattan", "mode": ("driving", "car")}),
    ("bus route from the university to the city centre", {"destination": "the city centre", "origin": "the university", "mode": ("transit", "bus")}),
    ("Please give me directions to Soldier Field", {"destination": "Soldier Field"}),
]

TRAIN["create_support_ticket"] = [
    ("open a support ticket: my laptop won't turn on", {"subject": "my laptop won't turn on"}),
    ("I can't log in to my account, please file a ticket, it's urgent", {"subject": "I can't log in to my account", "priority": ("high", "urgent")}),
    ("Create a high priority ticket about the payment page crashing", {"subject": "the payment page crashing", "priority": "high"}),
    ("report an issue: the printer on floor 3 is jammed", {"subject": "the printer on floor 3 is jammed"}),
    ("file a low priority ticket for a typo on the pricing page", {"subject": "a typo on the pricing page", "priority": "low"}),
    ("My internet keeps dropping, can you raise a ticket with IT?", {"subject": "My internet keeps dropping"}),
    ("Create a support ticket - refund not received, medium priority", {"subject": "refund not received", "priority": "medium"}),
    ("submit a ticket saying the app crashes when I upload photos", {"subject": "the app crashes when I upload photos"}),
    ("the VPN is down for the whole team, open a critical ticket", {"subject": "the VPN is down for the whole team", "priority": ("high", "critical")}),
    ("log a ticket: wrong item delivered", {"subject": "wrong item delivered"}),
    ("Please open a ticket because I was charged twice this month", {"subject": "I was charged twice this month"}),
    ("new ticket, low priority: request dark mode in the dashboard", {"subject": "request dark mode in the dashboard", "priority": "low"}),
    ("can you file a support request about my password reset email never arriving", {"subject": "my password reset email never arriving"}),
    ("Raise an urgent ticket, production database is unreachable", {"subject": "production database is unreachable", "priority": ("high", "urgent")}),
    ("Open a ticket for a broken chair in meeting room B", {"subject": "a broken chair in meeting room B"}),
    ("I want to complain that my order arrived damaged, please make a ticket", {"subject": "my order arrived damaged"}),
    ("create ticket 'Outlook not syncing' priority medium", {"subject": "Outlook not syncing", "priority": "medium"}),
    ("report a bug: search results show duplicates", {"subject": "search results show duplicates"}),
    ("my monitor flickers, open a low-priority ticket", {"subject": "my monitor flickers", "priority": "low"}),
    ("file a ticket asking for access to the shared drive", {"subject": "access to the shared drive"}),
    ("Could you open a helpdesk ticket? The projector in the boardroom doesn't work.", {"subject": "The projector in the boardroom doesn't work"}),
    ("ticket: keyboard missing keys, not urgent", {"subject": "keyboard missing keys", "priority": ("low", "not urgent")}),
    ("The checkout button does nothing on mobile. Log it as high priority.", {"subject": "The checkout button does nothing on mobile", "priority": "high"}),
    ("Please raise a support case about my subscription being cancelled without notice", {"subject": "my subscription being cancelled without notice"}),
    ("open a ticket my email is full of spam", {"subject": "my email is full of spam"}),
    ("I need IT help, my Zoom audio isn't working; file a ticket", {"subject": "my Zoom audio isn't working"}),
    ("Create a medium priority support ticket: invoices are showing the wrong tax rate", {"subject": "invoices are showing the wrong tax rate", "priority": "medium"}),
    ("submit a ticket for the broken AC in the server room asap", {"subject": "the broken AC in the server room", "priority": ("high", "asap")}),
    ("can you log an issue that the website is loading really slow", {"subject": "the website is loading really slow"}),
    ("ticket pls - cant reset 2FA", {"subject": "cant reset 2FA"}),
    ("Open a support ticket about my order not arriving, it's been three weeks", {"subject": "my order not arriving"}),
    ("file a high priority incident: customers can't sign up", {"subject": "customers can't sign up", "priority": "high"}),
    ("Please create a ticket regarding the coffee machine leaking in the kitchen, low priority", {"subject": "the coffee machine leaking in the kitchen", "priority": "low"}),
    ("my account got hacked!! open a ticket right now", {"subject": "my account got hacked", "priority": ("high", "right now")}),
    ("Raise a ticket: Excel keeps freezing when I open large files", {"subject": "Excel keeps freezing when I open large files"}),
    ("Report that the mobile app shows the wrong delivery address", {"subject": "the mobile app shows the wrong delivery address"}),
    ("create a support ticket, subject: billing question", {"subject": "billing question"}),
    ("I'd like to open a ticket because the badge reader at the front door isn't working", {"subject": "the badge reader at the front door isn't working"}),
    ("New support ticket. Priority: low. Issue: request to change my username", {"subject": "request to change my username", "priority": "low"}),
    ("The API returns 500 errors since this morning, file a ticket with high priority", {"subject": "The API returns 500 errors since this morning", "priority": "high"}),
    ("open a ticket that the wifi password on guest network expired", {"subject": "the wifi password on guest network expired"}),
    ("please escalate: payroll didn't go through, open a ticket", {"subject": "payroll didn't go through", "priority": ("high", "escalate")}),
    ("file a bug report, dark mode text is unreadable, medium", {"subject": "dark mode text is unreadable", "priority": "medium"}),
    ("Create a ticket: need a new laptop charger", {"subject": "need a new laptop charger"}),
    ("my headset is broken, can someone from IT look at it? open a ticket", {"subject": "my headset is broken"}),
    ("log a support ticket about the missing loyalty points on my account", {"subject": "the missing loyalty points on my account"}),
]

TRAIN["lookup_order"] = [
    ("where is my order #48213", {"order_id": "48213"}),
    ("Track order A1234", {"order_id": "A1234"}),
    ("Can you check the status of order ORD-99812?", {"order_id": "ORD-99812"}),
    ("has order 55120 shipped yet", {"order_id": "55120"}),
    ("look up my order, the number is 77-4410-2", {"order_id": "77-4410-2"}),
    ("What's happening with order number 30918?", {"order_id": "30918"}),
    ("order status 8841", {"order_id": "8841"}),
    ("I ordered a couch two weeks ago, order #BX-2207, where is it?", {"order_id": "BX-2207"}),
    ("When will order 66201 arrive?", {"order_id": "66201"}),
    ("check on order Q7731", {"order_id": "Q7731"}),
    ("Please look up order 100045 for me", {"order_id": "100045"}),
    ("Did my order 5009 get delivered?", {"order_id": "5009"}),
    ("track my package, order id 4471-X", {"order_id": "4471-X"}),
    ("Status of order #ZX98 please", {"order_id": "ZX98"}),
    ("my order 23847 still hasn't come, can you check", {"order_id": "23847"}),
    ("Could you find order number 40332 and tell me when it ships?", {"order_id": "40332"}),
    ("lookup order 7781", {"order_id": "7781"}),
    ("where's order W-1003", {"order_id": "W-1003"}),
    ("Hi, I placed order 91527 last Tuesday, any update?", {"order_id": "91527"}),
    ("what's the tracking info for order 3306", {"order_id": "3306"}),
    ("order # 62218 status?", {"order_id": "62218"}),
    ("Is order KL-5521 out for delivery?", {"order_id": "KL-5521"}),
    ("check my order, it's 880123", {"order_id": "880123"}),
    ("I'd like an update on order R2D2-44", {"order_id": "R2D2-44"}),
    ("Can you pull up order 12990?", {"order_id": "12990"}),
    ("find order 4a7f9c", {"order_id": "4a7f9c"}),
    ("has #70455 been dispatched", {"order_id": "70455"}),
    ("Where is my stuff? Order 28190.", {"order_id": "28190"}),
    ("look up order ref 550-882", {"order_id": "550-882"}),
    ("What's the delivery date for order 19283?", {"order_id": "19283"}),
    ("track order no. 8823401", {"order_id": "8823401"}),
    ("please check order B77410, it was supposed to arrive yesterday", {"order_id": "B77410"}),
    ("order 3141 - where is it", {"order_id": "3141"}),
    ("Any news on order number 60007?", {"order_id": "60007"}),
    ("Can you tell me if order 445566 was shipped?", {"order_id": "445566"}),
    ("check status of my order AMZ-30021", {"order_id": "AMZ-30021"}),
    ("I need to know where order 7001 is", {"order_id": "7001"}),
    ("status for order T-88", {"order_id": "T-88"}),
    ("has my order #21456 left the warehouse", {"order_id": "21456"}),
    ("Look up order 90210 please", {"order_id": "90210"}),
    ("my order number is 33781, when does it get here?", {"order_id": "33781"}),
    ("Find my order 51-7733", {"order_id": "51-7733"}),
    ("what's up with order 64400? it's late", {"order_id": "64400"}),
    ("Track #P55902", {"order_id": "P55902"}),
    ("Where's my order? It's order 81119.", {"order_id": "81119"}),
    ("could you check whether order 2468 is on its way", {"order_id": "2468"}),
]

TRAIN_OOS = [
    "tell me a joke",
    "what is the meaning of life",
    "who won the 1998 world cup",
    "how do I bake sourdough bread",
    "hi",
    "thanks, that's all for now",
    "What's your name?",
    "are you a robot",
    "Can you help me write a poem about autumn?",
    "what is 17 times 23",
    "who wrote Pride and Prejudice",
    "I'm feeling kind of down today",
    "explain quantum entanglement like I'm five",
    "good morning!",
    "whats the capital of australia",
    "How many legs does a spider have?",
    "recommend a good novel for a long flight",
    "What's the difference between a virus and a bacterium?",
    "never mind, I figured it out",
    "how do I tie a tie",
    "why is the sky blue",
    "can you summarize the plot of Hamlet",
    "give me a fun fact about octopuses",
    "what should I name my new puppy",
    "how old is the universe",
    "ok cool",
    "What's the best way to learn guitar as an adult?",
    "how do you fold a paper airplane",
    "who painted the Mona Lisa",
    "write a haiku about coffee",
    "is a hot dog a sandwich",
    "how do I get better at chess",
    "lol",
    "what rhymes with orange",
    "tell me about the fall of the Roman Empire",
    "how does the stock market actually work",
    "what's your favorite song",
    "why was the euro introduced",
    "how do spam filters decide what email is junk",
    "how many languages are spoken in India",
    "is it rude not to tip at restaurants in Japan",
    "why do we have leap years in the calendar",
    "why do I always forget people's names",
    "what's the best order to watch the Star Wars movies",
    "how do I get over a breakup",
    "what's the difference between a stock and a bond",
    "do you like jazz?",
    "which language is the hardest to learn",
    "how does a GPS know where I am",
    "what causes thunderstorms",
    "can you keep a secret",
    "what's 15% of 80",
    "how many ounces in a pound",
    "I love you",
    "what's the plural of octopus",
    "who invented the telephone",
    "suggest a name for my fantasy football team",
    "what's a good stretching routine for lower back pain",
    "how do airplanes stay in the air",
    "you're awesome, thank you",
]

# ---------------------------------------------------------------------------
# TEST  (written separately: new phrasings and new entity values)
# ---------------------------------------------------------------------------

TEST["get_weather"] = [
    ("What's the weather doing in Copenhagen?", {"city": "Copenhagen"}),
    ("Is it going to rain in Manchester tomorrow afternoon?", {"city": "Manchester", "date": "tomorrow afternoon"}),
    ("forecast for Marrakech on Wednesday in celsius", {"city": "Marrakech", "date": "Wednesday", "units": "celsius"}),
    ("how cold is Anchorage right now, fahrenheit please", {"city": "Anchorage", "units": "fahrenheit"}),
    ("I've got a wedding in Napa on the 21st, will it be dry?", {"city": "Napa", "date": "the 21st"}),
    ("weather seoul", {"city": "Seoul"}),
    ("Do I need sunscreen in Honolulu this weekend?", {"city": "Honolulu", "date": "this weekend"}),
    ("Hows the weather in Krakow looking for next Friday", {"city": "Krakow", "date": "next Friday"}),
    ("temp in Lagos", {"city": "Lagos"}),
    ("Could you check whether it'll snow in Salt Lake City tonight?", {"city": "Salt Lake City", "date": "tonight"}),
    ("Buenos Aires weather tomorrow, degrees F", {"city": "Buenos Aires", "date": "tomorrow", "units": ("fahrenheit", "F")}),
    ("it's so humid here, is Houston going to cool down by Thursday?", {"city": "Houston", "date": "Thursday"}),
    ("wats the forcast for Melbourne", {"city": "Melbourne"}),
    ("Tell me the weather in Bogotá for April 2", {"city": "Bogotá", "date": "April 2"}),
    ("Will it be stormy in Tampa later today?", {"city": "Tampa", "date": "later today"}),
    ("Stockholm weather next week please", {"city": "Stockholm", "date": "next week"}),
]

TEST["send_email"] = [
    ("Email Gregory that the keys are under the mat", {"to": "Gregory", "body": "the keys are under the mat"}),
    ("Send an email to ops@delta-logistics.com with subject Late delivery", {"to": "ops@delta-logistics.com", "subject": "Late delivery"}),
    ("could you write my landlord an email saying rent will be two days late", {"to": "my landlord", "body": "rent will be two days late"}),
    ("email Ingrid", {"to": "Ingrid"}),
    ("Please send an email to the finance team regarding the expense policy", {"to": "the finance team", "subject": "the expense policy"}),
    ("shoot an email over to paula.m@yahoo.com: dinner at 8 works for me", {"to": "paula.m@yahoo.com", "body": "dinner at 8 works for me"}),
    ("I want to e-mail Uncle Ray and tell him we landed safely", {"to": "Uncle Ray", "body": "we landed safely"}),
    ("Email Mrs. Dubois, subject: Parent-teacher conference", {"to": "Mrs. Dubois", "subject": "Parent-teacher conference"}),
    ("send my accountant an email asking for the tax forms", {"to": "my accountant", "subject": "the tax forms"}),
    ("Let Victor know via email the demo is postponed to next week", {"to": "Victor", "body": "the demo is postponed to next week"}),
    ("Compose a mail to bookings@seaviewhotel.com about an early check-in", {"to": "bookings@seaviewhotel.com", "subject": "an early check-in"}),
    ("email the babysitter that we'll be home by 11", {"to": "the babysitter", "body": "we'll be home by 11"}),
    ("Write an email to Chloe with subject Photos from the trip", {"to": "Chloe", "subject": "Photos from the trip"}),
    ("pls email yusuf saying the report is done", {"to": "Yusuf", "body": "the report is done"}),
    ("Can you send an e-mail to our IT guy, Ramon, that my VPN is broken?", {"to": "Ramon", "body": "my VPN is broken"}),
    ("Send Beatriz an email. Subject: Lunch. Body: Thai place on Friday?", {"to": "Beatriz", "subject": "Lunch", "body": "Thai place on Friday?"}),
]

TEST["create_calendar_event"] = [
    ("Add a meeting with the investors on Thursday at 11am", {"title": "meeting with the investors", "date": "Thursday", "time": "11am"}),
    ("schedule dermatologist appt on the 12th at 9:15", {"title": "dermatologist appt", "date": "the 12th", "time": "9:15"}),
    ("Put 'Hackathon demo' on my calendar for Friday at 3pm, 40 minutes", {"title": "Hackathon demo", "date": "Friday", "time": "3pm", "duration_minutes": 40}),
    ("create an event: brunch with Aunt Lily, Sunday 11:30", {"title": "brunch with Aunt Lily", "date": "Sunday", "time": "11:30"}),
    ("Could you block out 3 hours tomorrow morning for tax prep?", {"title": "tax prep", "date": "tomorrow", "time": "morning", "duration_minutes": (180, "3 hours")}),
    ("new calendar entry Grant deadline February 28", {"title": "Grant deadline", "date": "February 28"}),
    ("schedule a design review next Thursday at 2 lasting an hour", {"title": "design review", "date": "next Thursday", "time": "2", "duration_minutes": (60, "an hour")}),
    ("I have an eye exam on Oct 19 at 4:45pm, add it pls", {"title": "eye exam", "date": "Oct 19", "time": "4:45pm"}),
    ("add Noah's graduation to my calendar on May 30", {"title": "Noah's graduation", "date": "May 30"}),
    ("Set up a 25 minute catch-up with Elena on Monday at 12", {"title": "catch-up with Elena", "date": "Monday", "time": "12", "duration_minutes": 25}),
    ("calendar: plumber visit wed 8am", {"title": "plumber visit", "date": ("Wednesday", "wed"), "time": "8am"}),
    ("Please create an event named Launch party on the 6th of December at 8pm", {"title": "Launch party", "date": "the 6th of December", "time": "8pm"}),
    ("pencil in a run with Omar tomorrow at 6:30am for 50 minutes", {"title": "run with Omar", "date": "tomorrow", "time": "6:30am", "duration_minutes": 50}),
    ("Put the school play on my calendar for next Friday evening", {"title": "school play", "date": "next Friday", "time": "evening"}),
    ("Schedule an onboarding session for the new hires on March 9 at 10 for 2 hours", {"title": "onboarding session for the new hires", "date": "March 9", "time": "10", "duration_minutes": (120, "2 hours")}),
    ("Create an event called Car inspection this Tuesday", {"title": "Car inspection", "date": "this Tuesday"}),
]

TEST["search_web"] = [
    ("search the web for cheap hotels in Porto", {"query": "cheap hotels in Porto"}),
    ("google how to unclog a drain", {"query": "how to unclog a drain"}),
    ("Look up reviews of the Kindle Scribe", {"query": "reviews of the Kindle Scribe"}),
    ("can you search for the latest news on SpaceX Starship", {"query": "latest news on SpaceX Starship"}),
    ("find articles about sleep hygiene online", {"query": "articles about sleep hygiene"}),
    ("web search: rust borrow checker explained", {"query": "rust borrow checker explained"}),
    ("Search for pediatric dentists in Pasadena", {"query": "pediatric dentists in Pasadena"}),
    ("look up when the Olympics opening ceremony starts", {"query": "when the Olympics opening ceremony starts"}),
    ("google best pizza in Naples", {"query": "best pizza in Naples"}),
    ("Please do an internet search on solar panel rebates in California", {"query": "solar panel rebates in California"}),
    ("search up gluten free bakeries near me", {"query": "gluten free bakeries near me"}),
    ("What's the news on the heatwave in Spain? Look it up online", {"query": "news on the heatwave in Spain"}),
    ("Find me websites comparing Notion and Obsidian", {"query": "websites comparing Notion and Obsidian"}),
    ("look online for the Champions League final date", {"query": "Champions League final date"}),
    ("search for used road bikes under 500 dollars", {"query": "used road bikes under 500 dollars"}),
    ("Could you google the visa requirements for Vietnam?", {"query": "visa requirements for Vietnam"}),
]

TEST["set_timer"] = [
    ("set a timer for 17 minutes", {"duration_minutes": 17}),
    ("Timer 3 min for the noodles", {"duration_minutes": 3, "label": "noodles"}),
    ("can you start a 45 second timer", {"duration_minutes": (0.75, "45 second")}),
    ("I'm steaming broccoli, give me a timer for 5 minutes", {"duration_minutes": 5, "label": "broccoli"}),
    ("set a two hour timer", {"duration_minutes": (120, "two hour")}),
    ("start a 52 minute timer labelled deep focus", {"duration_minutes": 52, "label": "deep focus"}),
    ("timer for forty minutes pls", {"duration_minutes": (40, "forty")}),
    ("Please set a timer for three quarters of an hour", {"duration_minutes": (45, "three quarters of an hour")}),
    ("count down from 8 minutes for the cupcakes", {"duration_minutes": 8, "label": "cupcakes"}),
    ("Set a timer: 21 minutes", {"duration_minutes": 21}),
    ("Could you time 10 minutes for my stretching routine?", {"duration_minutes": 10, "label": "stretching routine"}),
    ("quick timer 90 sec", {"duration_minutes": (1.5, "90 sec")}),
    ("timer one hour for the slow cooker check", {"duration_minutes": (60, "one hour"), "label": "slow cooker check"}),
    ("start a timer of 27 minutes", {"duration_minutes": 27}),
    ("set an egg timer, 6 and a half minutes", {"duration_minutes": (6.5, "6 and a half minutes"), "label": "egg"}),
    ("I need a 33 minute timer", {"duration_minutes": 33}),
]

TEST["convert_currency"] = [
    ("convert 250 euros to dollars", {"amount": 250, "from_currency": ("EUR", "euros"), "to_currency": ("USD", "dollars")}),
    ("How much is 35 GBP in Japanese yen?", {"amount": 35, "from_currency": "GBP", "to_currency": ("JPY", "Japanese yen")}),
    ("what's 8000 rupees in pounds", {"amount": 8000, "from_currency": ("INR", "rupees"), "to_currency": ("GBP", "pounds")}),
    ("Convert $1,500 to Mexican pesos", {"amount": (1500, "1,500"), "from_currency": ("USD", "$"), "to_currency": ("MXN", "Mexican pesos")}),
    ("how many euros is 420 Swiss francs", {"amount": 420, "from_currency": ("CHF", "Swiss francs"), "to_currency": ("EUR", "euros")}),
    ("CAD to EUR rate", {"from_currency": "CAD", "to_currency": "EUR"}),
    ("I've got 95 Australian dollars, what's that in New Zealand dollars?", {"amount": 95, "from_currency": ("AUD", "Australian dollars"), "to_currency": ("NZD", "New Zealand dollars")}),
    ("how much would forty quid be in dollars", {"amount": (40, "forty"), "from_currency": ("GBP", "quid"), "to_currency": ("USD", "dollars")}),
    ("convert 5 million won to usd", {"amount": (5000000, "5 million"), "from_currency": ("KRW", "won"), "to_currency": "USD"}),
    ("What are 130 Turkish lira worth in euros?", {"amount": 130, "from_currency": ("TRY", "Turkish lira"), "to_currency": ("EUR", "euros")}),
    ("exchange 60 euros into Hungarian forint", {"amount": 60, "from_currency": ("EUR", "euros"), "to_currency": ("HUF", "Hungarian forint")}),
    ("what's 1 pound in euros", {"amount": 1, "from_currency": ("GBP", "pound"), "to_currency": ("EUR", "euros")}),
    ("How many Thai baht for 75 euros?", {"amount": 75, "from_currency": ("EUR", "euros"), "to_currency": ("THB", "Thai baht")}),
    ("Convert 2,000 Chinese yuan to dollars", {"amount": (2000, "2,000"), "from_currency": ("CNY", "Chinese yuan"), "to_currency": ("USD", "dollars")}),
    ("how much is 18.50 usd in cad", {"amount": (18.5, "18.50"), "from_currency": "USD", "to_currency": "CAD"}),
    ("please turn 300 Brazilian reais into pounds", {"amount": 300, "from_currency": ("BRL", "Brazilian reais"), "to_currency": ("GBP", "pounds")}),
]

TEST["get_stock_price"] = [
    ("What's the stock price of Intuit?", {"symbol": ("INTU", "Intuit")}),
    ("TSM price", {"symbol": "TSM"}),
    ("how is Qualcomm trading today", {"symbol": ("QCOM", "Qualcomm")}),
    ("check Lockheed Martin shares", {"symbol": ("LMT", "Lockheed Martin")}),
    ("current quote for Rivian", {"symbol": ("RIVN", "Rivian")}),
    ("How much is one share of Chipotle?", {"symbol": ("CMG", "Chipotle")}),
    ("what's the price of PEP", {"symbol": "PEP"}),
    ("Is Caterpillar stock up today?", {"symbol": ("CAT", "Caterpillar")}),
    ("Can you look up Moderna's share price?", {"symbol": ("MRNA", "Moderna")}),
    ("stock price home depot", {"symbol": ("HD", "home depot")}),
    ("How's Sony stock doing", {"symbol": ("SONY", "Sony")}),
    ("quote $DKNG", {"symbol": "DKNG"}),
    ("what's Broadcom trading at right now", {"symbol": ("AVGO", "Broadcom")}),
    ("price of Target stock please", {"symbol": ("TGT", "Target")}),
    ("tell me how Verizon shares are doing", {"symbol": ("VZ", "Verizon")}),
    ("How much are Ferrari shares?", {"symbol": ("RACE", "Ferrari")}),
]

TEST["play_music"] = [
    ("play some funk", {"genre": "funk"}),
    ("Play Purple Rain by Prince", {"query": "Purple Rain", "artist": "Prince"}),
    ("put on Dua Lipa", {"artist": "Dua Lipa"}),
    ("I want to hear Stairway to Heaven", {"query": "Stairway to Heaven"}),
    ("could you play some opera", {"genre": "opera"}),
    ("Play my road trip playlist", {"query": "road trip playlist"}),
    ("play something by Radiohead", {"artist": "Radiohead"}),
    ("put on ocean waves sounds", {"query": "ocean waves sounds"}),
    ("Play Thriller by Michael Jackson", {"query": "Thriller", "artist": "Michael Jackson"}),
    ("play some bluegrass please", {"genre": "bluegrass"}),
    ("I feel like listening to Frank Sinatra", {"artist": "Frank Sinatra"}),
    ("start playing Wonderwall", {"query": "Wonderwall"}),
    ("put on some Afrobeats by Burna Boy", {"genre": "Afrobeats", "artist": "Burna Boy"}),
    ("play techno", {"genre": "techno"}),
    ("Play the Frozen soundtrack for the kids", {"query": "Frozen soundtrack"}),
    ("Can you play Vivaldi's Four Seasons?", {"query": "Four Seasons", "artist": "Vivaldi"}),
]

TEST["set_reminder"] = [
    ("remind me to call the plumber at 4pm", {"text": "call the plumber", "time": "4pm"}),
    ("Remind me tomorrow at 8 to bring the permission slip", {"text": "bring the permission slip", "time": "tomorrow at 8"}),
    ("set a reminder to renew my gym membership on the 20th", {"text": "renew my gym membership", "time": "the 20th"}),
    ("don't let me forget to take the chicken out of the freezer tonight", {"text": "take the chicken out of the freezer", "time": "tonight"}),
    ("Can you remind me in 15 minutes to check on the baby?", {"text": "check on the baby", "time": "in 15 minutes"}),
    ("reminder: Dad's flight lands at 6:20pm", {"text": "Dad's flight lands", "time": "6:20pm"}),
    ("Remind me next Tuesday to schedule the car service", {"text": "schedule the car service", "time": "next Tuesday"}),
    ("remind me about the book club this Thursday evening", {"text": "the book club", "time": "this Thursday evening"}),
    ("Please set a reminder for 10:30am to join the webinar", {"text": "join the webinar", "time": "10:30am"}),
    ("In four hours remind me to flip the compost", {"text": "flip the compost", "time": "in four hours"}),
    ("remind me on Sept 12 to send Mia a card", {"text": "send Mia a card", "time": "Sept 12"}),
    ("set reminder take vitamins 7am", {"text": "take vitamins", "time": "7am"}),
    ("Remind me Friday afternoon to submit the expense report", {"text": "submit the expense report", "time": "Friday afternoon"}),
    ("I need a reminder at noon to call the insurance company", {"text": "call the insurance company", "time": "noon"}),
    ("remind me to put the bins out wednesday night", {"text": "put the bins out", "time": "Wednesday night"}),
    ("remind me in an hour and a half to leave for the airport", {"text": "leave for the airport", "time": "in an hour and a half"}),
]

TEST["translate_text"] = [
    ("translate 'good afternoon' into Portuguese", {"text": "good afternoon", "target_language": "Portuguese"}),
    ("How do you say 'I'm sorry' in Korean?", {"text": "I'm sorry", "target_language": "Korean"}),
    ("what's 'bon appétit' in English", {"text": "bon appétit", "target_language": "English"}),
    ("Translate into Italian: the train is delayed", {"text": "the train is delayed", "target_language": "Italian"}),
    ("how would I say 'where is the pharmacy' in Greek", {"text": "where is the pharmacy", "target_language": "Greek"}),
    ("Can you translate 'Thank you for your patience' to Japanese?", {"text": "Thank you for your patience", "target_language": "Japanese"}),
    ("Dutch for 'happy new year'?", {"text": "happy new year", "target_language": "Dutch"}),
    ("translate 'I don't eat meat' into French please", {"text": "I don't eat meat", "target_language": "French"}),
    ("What's the German word for 'butterfly'?", {"text": "butterfly", "target_language": "German"}),
    ("put 'the store closes at 6' into Spanish", {"text": "the store closes at 6", "target_language": "Spanish"}),
    ("translate 'obrigado' to english", {"text": "obrigado", "target_language": "English"}),
    ("How do I say 'my luggage is missing' in Turkish?", {"text": "my luggage is missing", "target_language": "Turkish"}),
    ("Translate 'call me when you land' into Russian", {"text": "call me when you land", "target_language": "Russian"}),
    ("say 'good morning everyone' in Hindi", {"text": "good morning everyone", "target_language": "Hindi"}),
    ("could you translate 'We look forward to working with you' to Chinese", {"text": "We look forward to working with you", "target_language": "Chinese"}),
    ("Tagalog for 'I miss you'", {"text": "I miss you", "target_language": "Tagalog"}),
]

TEST["book_restaurant"] = [
    ("book a table for 3 at Bestia on Friday at 8pm", {"restaurant": "Bestia", "party_size": 3, "date": "Friday", "time": "8pm"}),
    ("Reserve a table for four at Rao's tomorrow night", {"restaurant": "Rao's", "party_size": (4, "four"), "date": "tomorrow night"}),
    ("table for 2 at Canlis, 7:15", {"restaurant": "Canlis", "party_size": 2, "time": "7:15"}),
    ("Can you make a dinner reservation for 6 at Houston's on Saturday?", {"restaurant": "Houston's", "party_size": 6, "date": "Saturday"}),
    ("I need a table for one tonight at 9", {"party_size": (1, "one"), "date": "tonight", "time": "9"}),
    ("get us into Alinea for two on the 17th", {"restaurant": "Alinea", "party_size": (2, "two"), "date": "the 17th"}),
    ("book a table for ten at Benihana for Jake's birthday on June 8 at 6pm", {"restaurant": "Benihana", "party_size": (10, "ten"), "date": "June 8", "time": "6pm"}),
    ("reserve 2 spots at Franklin Barbecue for Sunday lunch", {"restaurant": "Franklin Barbecue", "party_size": 2, "date": "Sunday"}),
    ("party of 5, The Smith, 7:30 tonight", {"restaurant": "The Smith", "party_size": 5, "time": "7:30", "date": "tonight"}),
    ("Please reserve a table for 4 at Le Comptoir next Wednesday at 12:45", {"restaurant": "Le Comptoir", "party_size": 4, "date": "next Wednesday", "time": "12:45"}),
    ("could u book Bavette's for 2 at 8:30", {"restaurant": "Bavette's", "party_size": 2, "time": "8:30"}),
    ("We'd like a table for seven at Mama's Fish House on the 3rd", {"restaurant": "Mama's Fish House", "party_size": (7, "seven"), "date": "the 3rd"}),
    ("reserve a table at the sushi bar on 5th Avenue for 3 at 6", {"restaurant": "the sushi bar on 5th Avenue", "party_size": 3, "time": "6"}),
    ("Book a table for 2 at Trattoria Da Enzo tomorrow at 1pm", {"restaurant": "Trattoria Da Enzo", "party_size": 2, "date": "tomorrow", "time": "1pm"}),
    ("dinner reservation for 14 at Fogo de Chão on Saturday at 7", {"restaurant": "Fogo de Chão", "party_size": 14, "date": "Saturday", "time": "7"}),
    ("Can you grab us a table for three at Zahav this evening?", {"restaurant": "Zahav", "party_size": (3, "three"), "date": "this evening"}),
]

TEST["get_directions"] = [
    ("directions to the Space Needle", {"destination": "the Space Needle"}),
    ("How do I get to Fenway Park from Back Bay by subway?", {"destination": "Fenway Park", "origin": "Back Bay", "mode": ("transit", "subway")}),
    ("navigate to the nearest hardware store", {"destination": "the nearest hardware store"}),
    ("walking route to the Sagrada Família", {"destination": "the Sagrada Família", "mode": "walking"}),
    ("driving directions to Yosemite", {"destination": "Yosemite", "mode": "driving"}),
    ("how do I bike to the farmers market from home", {"destination": "the farmers market", "origin": "home", "mode": ("cycling", "bike")}),
    ("take me to the Hilton on 6th Street", {"destination": "the Hilton on 6th Street"}),
    ("What train do I take to get to Versailles from Paris?", {"destination": "Versailles", "origin": "Paris", "mode": ("transit", "train")}),
    ("can I walk to Buckingham Palace from Victoria Station?", {"destination": "Buckingham Palace", "origin": "Victoria Station", "mode": ("walking", "walk")}),
    ("route to 10 Downing Street", {"destination": "10 Downing Street"}),
    ("How do I get to O'Hare by public transit?", {"destination": "O'Hare", "mode": ("transit", "public transit")}),
    ("navigate to my parents' place", {"destination": "my parents' place"}),
    ("cycling directions from Kreuzberg to Tempelhof", {"destination": "Tempelhof", "origin": "Kreuzberg", "mode": "cycling"}),
    ("fastest way to drive to the ER", {"destination": "the ER", "mode": ("driving", "drive")}),
    ("how do I get to the Blue Mosque", {"destination": "the Blue Mosque"}),
    ("show me the tram route to the old town", {"destination": "the old town", "mode": ("transit", "tram")}),
]

TEST["create_support_ticket"] = [
    ("open a ticket: my phone won't connect to the office wifi", {"subject": "my phone won't connect to the office wifi"}),
    ("file an urgent ticket, the website is down", {"subject": "the website is down", "priority": ("high", "urgent")}),
    ("Create a low priority ticket about the faded signage in the lobby", {"subject": "the faded signage in the lobby", "priority": "low"}),
    ("can you raise a ticket because my paycheck is missing overtime", {"subject": "my paycheck is missing overtime"}),
    ("submit a support ticket: promo code not applying at checkout, medium priority", {"subject": "promo code not applying at checkout", "priority": "medium"}),
    ("report a bug - the export to PDF button crashes the app", {"subject": "the export to PDF button crashes the app"}),
    ("my second monitor isn't detected, please log a ticket", {"subject": "my second monitor isn't detected"}),
    ("Open a high priority ticket: SSO login broken for all users", {"subject": "SSO login broken for all users", "priority": "high"}),
    ("ticket: request a standing desk, no rush", {"subject": "request a standing desk", "priority": ("low", "no rush")}),
    ("I was double billed for my subscription, open a support case", {"subject": "I was double billed for my subscription"}),
    ("please create a ticket about the elevator making strange noises", {"subject": "the elevator making strange noises"}),
    ("file a ticket, the shared calendar isn't syncing", {"subject": "the shared calendar isn't syncing"}),
    ("new ticket priority high: data export job failed overnight", {"subject": "data export job failed overnight", "priority": "high"}),
    ("open a ticket for a flickering light in the hallway, low priority", {"subject": "a flickering light in the hallway", "priority": "low"}),
    ("Could you log an issue that I can't download my invoices?", {"subject": "I can't download my invoices"}),
    ("raise a critical ticket, payment gateway returns timeout errors", {"subject": "payment gateway returns timeout errors", "priority": ("high", "critical")}),
]

TEST["lookup_order"] = [
    ("where is my order #73105", {"order_id": "73105"}),
    ("Track order C9981", {"order_id": "C9981"}),
    ("can you check the status of order ORD-11457?", {"order_id": "ORD-11457"}),
    ("has order 40981 been delivered", {"order_id": "40981"}),
    ("look up order number 5566-B", {"order_id": "5566-B"}),
    ("what's the status of my order 802211", {"order_id": "802211"}),
    ("Order 3377 hasn't arrived yet, can you look into it?", {"order_id": "3377"}),
    ("check on order #HK-4410", {"order_id": "HK-4410"}),
    ("When is order 92017 expected?", {"order_id": "92017"}),
    ("find order 61f3a2", {"order_id": "61f3a2"}),
    ("track my order, the id is 27750", {"order_id": "27750"}),
    ("is order M-3012 out for delivery yet", {"order_id": "M-3012"}),
    ("Any update on order no. 118834?", {"order_id": "118834"}),
    ("Please look up order 4096 for me", {"order_id": "4096"}),
    ("where's my package from order 55813", {"order_id": "55813"}),
    ("did order X-7720 ship?", {"order_id": "X-7720"}),
]

TEST_OOS = [
    "tell me something funny",
    "what's the point of it all",
    "which country has won the most Olympic gold medals",
    "how do I make pancakes from scratch",
    "hello there",
    "thank you so much",
    "who made you",
    "write a limerick about a cat",
    "what is 144 divided by 12",
    "who discovered penicillin",
    "I'm bored",
    "explain how vaccines work",
    "what's the tallest mountain in Africa",
    "how do I change a flat tire",
    "why do cats purr",
    "what's the best way to memorize vocabulary",
    "how does inflation affect the value of a currency",
    "what's the most popular music genre in the world",
    "how do restaurants decide their menu prices",
    "what are good habits for remembering things",
    "how do weather forecasters predict rain",
    "can you recommend a board game for four people",
    "good night",
    "what's the difference between a timer and a stopwatch",
    "how do I write a good cover letter",
]


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------

def _num_str(v):
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _occurrences(text, surface):
    """Candidate (start, end) positions of `surface`, best first."""
    seen = []
    pat = r"(?<!\w)" + re.escape(surface) + r"(?!\w)"
    for flags in (0, re.IGNORECASE):
        for m in re.finditer(pat, text, flags):
            seen.append((m.start(), m.end()))
    low, sl = text.lower(), surface.lower()
    i = low.find(sl)
    while i >= 0:
        seen.append((i, i + len(surface)))
        i = low.find(sl, i + 1)
    out = []
    for s in seen:
        if s not in out:
            out.append(s)
    return out


def build_record(tool, text, args):
    clean_args, spans, taken = {}, [], []
    for name, raw in args.items():
        if isinstance(raw, tuple):
            value, surface = raw
        else:
            value = raw
            surface = value if isinstance(value, str) else _num_str(value)
        clean_args[name] = value
        if surface is None:
            continue
        for start, end in _occurrences(text, surface):
            if all(end <= a or start >= b for a, b in taken):
                break
        else:
            raise ValueError(f"{tool}: cannot place span {name}={surface!r} in {text!r}")
        taken.append((start, end))
        spans.append({"name": name, "start": start, "end": end})
    spans.sort(key=lambda s: s["start"])
    return {"text": text, "tool": tool, "args": clean_args, "spans": spans}


def build_split(by_tool, oos, seed):
    records = []
    for tool in sorted(by_tool):
        for text, args in by_tool[tool]:
            records.append(build_record(tool, text, args))
    for text in oos:
        records.append({"text": text, "tool": None, "args": {}, "spans": []})
    random.Random(seed).shuffle(records)
    return records


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------
# checking (reads the files back from disk)
# ---------------------------------------------------------------------------

def _type_ok(value, schema):
    t = schema.get("type")
    if t == "string":
        ok = isinstance(value, str) and value != ""
    elif t == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif t == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif t == "boolean":
        ok = isinstance(value, bool)
    else:
        ok = False
    if ok and "enum" in schema:
        ok = value in schema["enum"]
    return ok


def check(tools_path, train_path, test_path):
    errors = []
    tools = json.load(open(tools_path, encoding="utf-8"))
    schemas = {}
    for t in tools:
        assert set(t) == {"name", "description", "parameters"}, t
        p = t["parameters"]
        assert p["type"] == "object" and isinstance(p["properties"], dict), t["name"]
        for r in p["required"]:
            assert r in p["properties"], (t["name"], r)
        schemas[t["name"]] = p
    if len(schemas) != len(tools):
        errors.append("duplicate tool names")

    splits = {}
    for label, path in (("train", train_path), ("test", test_path)):
        recs = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f"{label}:{n}: bad JSON: {e}")
                    continue
                recs.append(r)
                where = f"{label}:{n} {r.get('text')!r}"
                if set(r) != {"text", "tool", "args", "spans"}:
                    errors.append(f"{where}: keys {sorted(r)}")
                    continue
                if not isinstance(r["text"], str) or not r["text"].strip():
                    errors.append(f"{where}: empty text")
                tool = r["tool"]
                if tool is None:
                    if r["args"] or r["spans"]:
                        errors.append(f"{where}: out-of-scope with args/spans")
                    continue
                if tool not in schemas:
                    errors.append(f"{where}: unknown tool {tool}")
                    continue
                props = schemas[tool]["properties"]
                for req in schemas[tool]["required"]:
                    if req not in r["args"]:
                        errors.append(f"{where}: missing required arg {req}")
                for k, v in r["args"].items():
                    if k not in props:
                        errors.append(f"{where}: arg {k} not in schema")
                    elif not _type_ok(v, props[k]):
                        errors.append(f"{where}: arg {k}={v!r} does not fit {props[k]}")
                names, prev_end = set(), -1
                for s in r["spans"]:
                    k, a, b = s["name"], s["start"], s["end"]
                    if k not in props:
                        errors.append(f"{where}: span name {k} not in schema")
                    if k not in r["args"]:
                        errors.append(f"{where}: span {k} without an arg")
                    if k in names:
                        errors.append(f"{where}: two spans for {k}")
                    names.add(k)
                    if not (isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= len(r["text"])):
                        errors.append(f"{where}: bad span {s}")
                        continue
                    if not r["text"][a:b].strip():
                        errors.append(f"{where}: blank span {s}")
                    if a < prev_end:
                        errors.append(f"{where}: overlapping spans")
                    prev_end = b
        splits[label] = recs

    for label, recs in splits.items():
        texts = [r["text"].lower() for r in recs]
        if len(set(texts)) != len(texts):
            errors.append(f"{label}: duplicate texts")
    train_texts = {r["text"].strip().lower() for r in splits["train"]}
    for r in splits["test"]:
        if r["text"].strip().lower() in train_texts:
            errors.append(f"test text also in train: {r['text']!r}")

    counts = {}
    for label, recs in splits.items():
        c = {}
        for r in recs:
            c[r["tool"]] = c.get(r["tool"], 0) + 1
        counts[label] = c
        mins = (MIN_TRAIN_PER_TOOL, MIN_TRAIN_OOS) if label == "train" else (MIN_TEST_PER_TOOL, MIN_TEST_OOS)
        for name in schemas:
            if c.get(name, 0) < mins[0]:
                errors.append(f"{label}: {name} has {c.get(name, 0)} < {mins[0]}")
        if c.get(None, 0) < mins[1]:
            errors.append(f"{label}: out-of-scope has {c.get(None, 0)} < {mins[1]}")
    return errors, counts, splits, list(schemas)


def overlap_report(splits):
    """Informational: how many test arg values also occur (same tool and arg) in train."""
    seen = {}
    for r in splits["train"]:
        for k, v in r["args"].items():
            seen.setdefault((r["tool"], k), set()).add(str(v).lower())
    total = shared = 0
    for r in splits["test"]:
        for k, v in r["args"].items():
            total += 1
            shared += str(v).lower() in seen.get((r["tool"], k), set())
    return shared, total


def main():
    tools_path = os.path.join(HERE, "tools.json")
    train_path = os.path.join(HERE, "train.jsonl")
    test_path = os.path.join(HERE, "test.jsonl")
    write_jsonl(train_path, build_split(TRAIN, TRAIN_OOS, seed=1))
    write_jsonl(test_path, build_split(TEST, TEST_OOS, seed=2))

    errors, counts, splits, names = check(tools_path, train_path, test_path)
    print(f"{'tool':24} {'train':>6} {'test':>6}")
    for name in names + [None]:
        label = name if name else "(out of scope)"
        print(f"{label:24} {counts['train'].get(name, 0):>6} {counts['test'].get(name, 0):>6}")
    print(f"{'total':24} {len(splits['train']):>6} {len(splits['test']):>6}")
    shared, total = overlap_report(splits)
    print(f"test argument values also seen in train (same tool+arg): {shared}/{total}")
    if errors:
        print(f"\nCHECK FAILED ({len(errors)} problems):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("check passed")


if __name__ == "__main__":
    main()
