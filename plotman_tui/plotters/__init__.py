"""plotters"""
